"""Proving the email at registration (review G11): the emailed link with the account's login and password; the
"this wasn't me" release with the link alone; and what an unproven merchant user may not do."""

from __future__ import annotations

from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

from tests.integration.http.http_support import PASSWORD, SETTLEMENT, bearer
from tests.support.mailbox import link_token

EMAIL = "owner@duka.co.ke"
OTHER = "someone@else.co.ke"
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")


def _unproven(auth, email: str = EMAIL) -> dict[str, str]:
    auth.register(email, "merchant")
    return bearer(auth.login(email)["access_token"])


def _token(services, email: str = EMAIL, release: bool = False) -> str:
    return link_token(services.notifier.sent, email, release=release)


def _verify(client, headers, token: str, password: str = PASSWORD):
    return client.post("/v1/auth/email/verify", json={"token": token, "password": password}, headers=headers)


def _actions(services) -> list[str]:
    return [r.action for r in services.audit.records()]


def _problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.json
    assert response.content_type == "application/problem+json" and response.json["type"].endswith(code)


def test_an_unproven_merchant_user_may_not_set_a_payout_destination(client, auth, services):
    """Creating a merchant sets a payout destination: refused with 403 email_unverified (audited), nothing made."""
    headers = _unproven(auth)
    refused = client.post("/v1/merchants", json={"business_name": "Duka", "settlement": SETTLEMENT}, headers=headers)
    _problem(refused, 403, "email_unverified")
    assert services.merchants.by_owner(services.users.by_email(EMAIL).id) is None
    refusals = [r for r in services.audit.records() if r.action == "access.refused"]
    assert dict(refusals[-1].details)["reason"] == "email_unverified"
    assert client.get("/v1/me", headers=headers).json["user"]["email_verified"] is False


def test_the_link_with_the_login_and_password_proves_the_email_once(client, auth, services):
    """The emailed token with the account's session and password proves the email (audited sent and proven); the
    merchant can then be created; the used link does not work again and proving again changes nothing."""
    headers = _unproven(auth)
    token = _token(services)
    assert _verify(client, headers, token).status_code == 204
    user = services.users.by_email(EMAIL)
    assert user.email_verified_at is not None and user.email_token_hash is None
    assert {"auth.email_proof_sent", "auth.email_proven"} <= set(_actions(services))
    assert client.get("/v1/me", headers=headers).json["user"]["email_verified"] is True
    made = client.post("/v1/merchants", json={"business_name": "Duka", "settlement": SETTLEMENT}, headers=headers)
    assert made.status_code == 201, made.json
    assert _verify(client, headers, token).status_code == 204  # already proven: nothing to do
    _problem(client.post("/v1/auth/email/release", json={"token": token}), 422, "email_link_invalid")


def test_the_link_alone_or_in_another_login_proves_nothing(client, auth, services):
    """The trap: the squatter registered the owner's address. The owner's token without a login is 401; in the
    owner's own other account it is another account's link (422); in the squatter's session it still needs the
    squatter's password (403). Nothing is proven, and each failure is audited."""
    squatter = _unproven(auth)
    token = _token(services)
    assert _verify(client, {}, token).status_code == 401
    owners_other_account = _unproven(auth, OTHER)
    _problem(_verify(client, owners_other_account, token), 422, "email_link_invalid")
    _problem(_verify(client, squatter, token, password="the owner guesses wrong"), 403, "step_up_required")
    _problem(_verify(client, squatter, _token(services, OTHER)), 422, "email_link_invalid")
    assert services.users.by_email(EMAIL).email_verified_at is None
    failures = [dict(r.details)["reason"] for r in services.audit.records() if r.action == "auth.email_proof_failed"]
    assert failures == ["token", "password", "token"]


def test_an_expired_or_replaced_link_proves_nothing(client, auth, services, clock):
    """A link works for 24 hours; a resend replaces it (the old one stops working), at most once a minute."""
    headers = _unproven(auth)
    first = _token(services)
    clock.advance(hours=24)
    headers = bearer(auth.login(EMAIL)["access_token"])
    _problem(_verify(client, headers, first), 422, "email_link_invalid")
    assert client.post("/v1/auth/email/resend", headers=headers).status_code == 202
    _problem(client.post("/v1/auth/email/resend", headers=headers), 429, "rate_limited")
    second = _token(services)
    assert second != first
    clock.advance(seconds=61)
    assert client.post("/v1/auth/email/resend", headers=headers).status_code == 202
    _problem(_verify(client, headers, second), 422, "email_link_invalid")
    assert _verify(client, headers, _token(services)).status_code == 204
    assert _actions(services).count("auth.email_proof_sent") == 3


def test_this_was_not_me_releases_the_address_without_a_login(client, auth, services, clock):
    """The owner's release link (no login) disables the squatter's account (``disabled_at``: when): its sessions end,
    it cannot log in, the address is free to register again (a new account, with its own link); audited and the
    owner is told."""
    squatter = _unproven(auth)
    squatter_id = services.users.by_email(EMAIL).id
    release = _token(services, release=True)
    assert client.post("/v1/auth/email/release", json={"token": release}).status_code == 204
    assert client.get("/v1/me", headers=squatter).status_code == 401
    assert client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}).status_code == 401
    assert services.users.get(squatter_id).email is None
    assert services.users.get(squatter_id).disabled_at == clock.now()
    _problem(client.post("/v1/auth/email/release", json={"token": release}), 422, "email_link_invalid")
    owner = _unproven(auth)
    assert services.users.by_email(EMAIL).id != squatter_id
    assert _verify(client, owner, _token(services)).status_code == 204
    released = [r for r in services.audit.records() if r.action == "auth.email_released"]
    assert [r.subject for r in released] == [f"user:{squatter_id}"]
    assert any(m.subject == "Your email was released" for m in services.notifier.sent_to(EMAIL))


def test_a_made_up_release_token_changes_nothing(client, auth, services):
    """A release token that is not the emailed one (another id, a guessed secret, no dot) is 422 and changes nothing."""
    _unproven(auth)
    user_id = services.users.by_email(EMAIL).id
    for token in (f"{user_id}.guessed", "usr_404.x", "nodot", f"{user_id}."):
        _problem(client.post("/v1/auth/email/release", json={"token": token}), 422, "email_link_invalid")
    assert services.users.get(user_id).email == EMAIL and "auth.email_released" not in _actions(services)


def test_an_unproven_owner_of_an_older_merchant_keeps_its_keys_but_makes_no_new_ones(client, auth, services, clock):
    """An account from before the rule (its merchant and key made then) keeps its key working, but may not create
    keys or webhook endpoints or change the payout destination until it proves its email."""
    headers = _unproven(auth)
    runtime = client.application.extensions["cryptopay"]
    owner = services.users.by_email(EMAIL)
    merchant = runtime.merchants.create(owner, business_name="Old Duka", settlement=PROFILE)
    _, old_key = runtime.api_keys.create(merchant.id, name="old", scopes=["merchant:read"], created_by=owner.id)
    headers = bearer(auth.login(EMAIL)["access_token"])  # the login now carries the merchant
    stepped = auth.stepped_up(headers)
    assert client.get(f"/v1/merchants/{merchant.id}", headers=bearer(old_key)).status_code == 200
    keys = client.post(
        f"/v1/merchants/{merchant.id}/api-keys", json={"name": "new", "scopes": ["invoices:read"]}, headers=stepped
    )
    _problem(keys, 403, "email_unverified")
    hook = client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/h"}, headers=stepped)
    _problem(hook, 403, "email_unverified")
    moved = {"settlement": {**SETTLEMENT, "destination": "0722000111"}}
    _problem(client.patch(f"/v1/merchants/{merchant.id}", json=moved, headers=stepped), 403, "email_unverified")
    renamed = client.patch(f"/v1/merchants/{merchant.id}", json={"business_name": "New Duka"}, headers=headers)
    assert renamed.status_code == 200, renamed.json  # a name is not a destination
    assert services.merchants.get(merchant.id).settlement.destination == "254712345678"
    clock.advance(seconds=61)
    assert client.post("/v1/auth/email/resend", headers=headers).status_code == 202
    assert _verify(client, headers, _token(services)).status_code == 204
    keys = client.post(
        f"/v1/merchants/{merchant.id}/api-keys", json={"name": "new", "scopes": ["invoices:read"]}, headers=stepped
    )
    assert keys.status_code == 201, keys.json


def test_registering_an_address_an_unproven_account_holds_emails_a_release_link(client, auth, services):
    """The owner who registers after a squatter is told the address is taken and gets a release link (the proof
    link sent to the squatter's registration stops working); after the release the owner registers its own account.
    A proven account's "taken" email carries no release link."""
    auth.register(EMAIL, "merchant")
    first = _token(services, release=True)
    auth.register(EMAIL, "merchant")
    taken = services.notifier.sent_to(EMAIL)[-1]
    assert taken.subject == "Someone tried to register with your email" and "/verify-email/release#token=" in taken.body
    _problem(client.post("/v1/auth/email/release", json={"token": first}), 422, "email_link_invalid")
    assert client.post("/v1/auth/email/release", json={"token": _token(services, release=True)}).status_code == 204
    owner = _unproven(auth)
    assert _verify(client, owner, _token(services)).status_code == 204
    auth.register(EMAIL, "merchant")
    assert "/verify-email/release#token=" not in services.notifier.sent_to(EMAIL)[-1].body
