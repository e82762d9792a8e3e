"""Account pre-hijacking (review G11): a password reset through the emailed link is the account's first proof of
its email; what the account set up before it (a squatter's API keys, webhooks, payout number) stops working.

Since email proof at registration (``identity.email_proof``) an unproven account can set none of that up through
the API, so the squatter's set-up here is an account's from before that rule: made through the core use cases."""

from __future__ import annotations

import re

from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.webhooks import create_endpoint

from tests.integration.http.http_support import PASSWORD, bearer
from tests.support.mailbox import link_token

EMAIL = "owner@victim-shop.co.ke"
NEW = "the real owner's own passphrase"


def _reset(client, services, password: str = NEW) -> None:
    assert client.post("/v1/auth/password-reset", json={"email": EMAIL}).status_code == 202
    mail = [m for m in services.notifier.sent_to(EMAIL) if m.subject == "Reset your cryptopay password"][-1]
    token = re.search(r"token=(\S+)", mail.body).group(1)
    assert (
        client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": password}).status_code == 204
    )


def _set_up_before_the_rule(client, services) -> tuple[str, str]:
    """The squatter's merchant (its payout number), API key and webhook endpoint, made as before email proof."""
    runtime, squatter = client.application.extensions["cryptopay"], services.users.by_email(EMAIL)
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    merchant = runtime.merchants.create(squatter, business_name="Victim Shop", settlement=profile)
    scopes = ["invoices:read", "webhooks:read"]
    _, key = runtime.api_keys.create(merchant.id, name="shop", scopes=scopes, created_by=squatter.id)
    create_endpoint(
        merchant.id,
        "https://collector.evil.example/h",
        uow_factory=services.webhooks_uow,
        ids=services.ids,
        clock=services.clock,
        created_by=squatter.id,
    )
    return merchant.id, key


def test_the_first_reset_revokes_the_squatters_keys_webhooks_and_holds_the_payout_number(client, auth, services):
    """A squatter registers the owner's email, a merchant, an API key and a webhook endpoint. The owner's reset
    (the first proof of the email) ends the sessions, revokes the key (401 at once), disables the endpoint, holds
    the payout destination, audits each and emails the owner; a later reset keeps the owner's new key."""
    auth.register(EMAIL, "merchant")
    squatter = bearer(auth.login(EMAIL)["access_token"])
    merchant_id, key = _set_up_before_the_rule(client, services)
    assert client.get("/v1/invoices", headers=bearer(key)).status_code == 200
    assert len(client.get("/v1/webhook-endpoints", headers=bearer(key)).json["data"]) == 1

    _reset(client, services)

    assert client.get("/v1/me", headers=squatter).status_code == 401
    refused = client.get("/v1/invoices", headers=bearer(key))
    assert refused.status_code == 401 and refused.content_type == "application/problem+json"
    owner = bearer(auth.login(EMAIL, NEW)["access_token"])
    assert client.get("/v1/webhook-endpoints", headers=owner).json["data"] == []
    merchant = services.merchants.get(merchant_id)
    assert merchant.destination_cooling(services.clock.now())  # payouts wait for the owner's review
    assert services.users.by_email(EMAIL).email_verified_at is not None
    actions = [(r.action, dict(r.details).get("reason")) for r in services.audit.records()]
    for done in ("api_key.revoked", "webhook_endpoint.disabled", "merchant.destination_held"):
        assert (done, "account_reclaimed") in actions, done
    assert ("auth.email_proven", None) in actions and ("account.reclaimed", None) in actions
    [notice] = [m for m in services.notifier.sent_to(EMAIL) if m.subject == "Check your cryptopay account"]
    assert "1 API key(s) revoked" in notice.body and "1 webhook endpoint(s) disabled" in notice.body
    assert "ending 678" in notice.body and "0712345678" not in notice.body

    made = client.post(
        f"/v1/merchants/{merchant_id}/api-keys",
        json={"name": "mine", "scopes": ["invoices:read"]},
        headers=auth.stepped_up(owner, password=NEW),
    )
    fresh = made.json["secret"]
    _reset(client, services, password=NEW + " again")  # the email is proven: a forgotten password is no hijack
    assert client.get("/v1/invoices", headers=bearer(fresh)).status_code == 200
    assert len([m for m in services.notifier.sent_to(EMAIL) if m.subject == "Check your cryptopay account"]) == 1


def test_a_reset_of_an_account_without_a_merchant_only_proves_the_email(client, auth, services):
    """No merchant: nothing to revoke; the email is proven and the reclaim audited."""
    auth.register(EMAIL, "merchant", password=PASSWORD)
    _reset(client, services)
    assert services.users.by_email(EMAIL).email_verified_at is not None
    [record] = [r for r in services.audit.records() if r.action == "account.reclaimed"]
    assert dict(record.details) == {"merchant": "none"}


def test_releasing_the_address_revokes_what_the_squatter_set_up(client, auth, services):
    """The owner's "this wasn't me" link (``identity.email_proof``) on a squatter's account from before the rule:
    the key stops at once, the endpoint is disabled, the payout number held; each audited ``account_reclaimed``."""
    auth.register(EMAIL, "merchant")
    merchant_id, key = _set_up_before_the_rule(client, services)
    token = link_token(services.notifier.sent, EMAIL, release=True)
    assert client.post("/v1/auth/email/release", json={"token": token}).status_code == 204
    assert client.get("/v1/invoices", headers=bearer(key)).status_code == 401
    assert services.merchants.get(merchant_id).destination_cooling(services.clock.now())
    actions = [(r.action, dict(r.details).get("reason")) for r in services.audit.records()]
    for done in ("api_key.revoked", "webhook_endpoint.disabled", "merchant.destination_held"):
        assert (done, "account_reclaimed") in actions, done
    assert ("account.released", None) in actions and ("auth.email_released", None) in actions


def test_an_unproven_account_may_disable_its_older_endpoint_but_not_point_it_elsewhere(client, auth, services):
    """An endpoint from before the rule: a new URL is 403 email_unverified (the URL stays); disabling it is never
    refused (review G11)."""
    auth.register(EMAIL, "merchant")
    _set_up_before_the_rule(client, services)
    owner = bearer(auth.login(EMAIL)["access_token"])
    [endpoint] = client.get("/v1/webhook-endpoints", headers=owner).json["data"]
    path, stepped = f"/v1/webhook-endpoints/{endpoint['id']}", auth.stepped_up(owner)
    moved = client.patch(path, json={"url": "https://elsewhere.example/h"}, headers=stepped)
    assert moved.status_code == 403 and moved.json["type"].endswith("email_unverified")
    assert client.get(path, headers=owner).json["url"] == "https://collector.evil.example/h"
    disabled = client.patch(path, json={"enabled": False}, headers=stepped)
    assert disabled.status_code == 200, disabled.json
    assert client.get("/v1/webhook-endpoints", headers=owner).json["data"] == []  # the list shows enabled ones
