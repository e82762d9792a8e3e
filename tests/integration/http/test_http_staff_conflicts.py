"""Outside review 4, R12: staff never act for a merchant, on the production composition over PostgreSQL.

A merchant's owner is not made compliance officer (409 ``on_merchant_team``, nothing changed); an officer made before
that rule (the role set while the team stayed) cannot unfreeze, freeze or review their own merchant (``own_party``,
audited); and a role that leaves merchant revokes the API keys the account created, as leaving the team does.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.adapters.sql import upgrade
from cryptopay.core.identity.admin import OnMerchantTeam
from cryptopay.core.identity.model import Role
from cryptopay.core.kyc.review import OwnParty
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay_http.app import create_app
from cryptopay_http.runtime import Runtime
from flask import Flask
from flask.testing import FlaskClient

from tests.support.mailbox import prove_email_in_app

PASSWORD = "a long passphrase"


@pytest.fixture(scope="module")
def pg_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The API built from the production composition (``build(Settings)``) on a migrated PostgreSQL database."""
    upgrade(database_url)
    env = {
        "CRYPTOPAY_DATABASE_URL": database_url,
        "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
        "CRYPTOPAY_COOKIE_SECURE": "false",
        "CRYPTOPAY_DATA_DIR": str(tmp_path_factory.mktemp("staff-conflicts")),
    }
    services = build(Settings.from_env(env))
    yield create_app(services)
    services.close()


def _services(app: Flask) -> Services:
    runtime: Runtime = app.extensions["cryptopay"]
    return runtime.services


def _owner_with_key(client: FlaskClient) -> tuple[str, str, dict[str, str]]:
    """A merchant owner's email, its merchant's id and the headers of an API key the owner created."""
    email = f"owner-{uuid.uuid4().hex[:8]}@example.co.ke"
    assert (
        client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "role": "merchant"}).status_code
        == 202
    )

    def login() -> dict[str, str]:
        answer = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        return {"authorization": f"Bearer {answer.json['access_token']}"}  # type: ignore[index]

    prove_email_in_app(client, email, login(), PASSWORD)
    settlement = {"schedule": "daily", "method": "mpesa_b2c", "destination": "254708374149"}
    created = client.post("/v1/merchants", json={"business_name": "Duka", "settlement": settlement}, headers=login())
    assert created.status_code == 201, created.json
    merchant_id = str(created.json["id"])  # type: ignore[index]
    headers = login()
    step = client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=headers).json["step_up_token"]  # type: ignore[index]
    body = {"name": "shop", "scopes": ["invoices:read"]}
    key = client.post(f"/v1/merchants/{merchant_id}/api-keys", json=body, headers={**headers, "X-Step-Up-Token": step})
    assert key.status_code == 201, key.json
    key_headers = {"authorization": f"Bearer {key.json['secret']}"}  # type: ignore[index]
    assert client.get("/v1/invoices", headers=key_headers).status_code == 200
    return email, merchant_id, key_headers


def _audited(services: Services, subject: str, action: str) -> list[dict[str, str]]:
    with services.uow() as uow:
        return [dict(r.details) for r in uow.audit.about([subject]) if r.action == action]


def test_a_merchants_owner_is_not_made_staff(pg_app: Flask) -> None:
    client, runtime = pg_app.test_client(), pg_app.extensions["cryptopay"]
    email, merchant_id, key = _owner_with_key(client)
    user = runtime.services.users.by_email(email)
    for role in (Role.COMPLIANCE, Role.ADMIN):
        with pytest.raises(OnMerchantTeam) as refused:
            runtime.user_admin.set_role(email, role, actor="ops:amina")
        assert refused.value.http_status == 409 and refused.value.code == "on_merchant_team"
        assert merchant_id in refused.value.message
    assert runtime.services.users.get(user.id).role is Role.MERCHANT
    assert _audited(runtime.services, f"user:{user.id}", "user.role_changed") == []
    assert client.get("/v1/invoices", headers=key).status_code == 200  # nothing taken back


def test_an_officer_on_a_merchants_team_cannot_unfreeze_or_review_it(pg_app: Flask) -> None:
    """An owner made officer before the rule (its role set, its team kept): another officer freezes its merchant;
    it cannot lift the freeze, nor freeze it, each refusal audited; the freeze stands."""
    client, services = pg_app.test_client(), _services(pg_app)
    email, merchant_id, _ = _owner_with_key(client)
    insider = services.users.by_email(email)
    insider.role = Role.COMPLIANCE  # as `users set-role` did before the rule
    services.users.update(insider)
    review = services.kyc_review
    other = f"usr_{uuid.uuid4().hex[:12]}"
    assert review.freeze(other, merchant_id, PartyKind.MERCHANT, "suspicious volume").frozen
    with pytest.raises(OwnParty) as refused:
        review.unfreeze(insider.id, merchant_id, PartyKind.MERCHANT)
    assert refused.value.http_status == 403 and refused.value.code == "own_party"
    with pytest.raises(OwnParty):
        review.freeze(insider.id, merchant_id, PartyKind.MERCHANT, "cover")
    with pytest.raises(OwnParty):
        review.freeze(insider.id, insider.id, PartyKind.PERSONAL, "myself")
    assert review.standing(merchant_id).profile.frozen  # type: ignore[union-attr]
    refusals = _audited(services, f"kyc:{merchant_id}", "kyc.own_party_refused")
    assert [r["action"] for r in refusals] == ["kyc.freeze_changed", "kyc.freeze_changed"]
    assert _audited(services, f"kyc:{merchant_id}", "kyc.unfrozen") == []


def test_a_role_that_leaves_merchant_revokes_the_accounts_keys(pg_app: Flask) -> None:
    client, runtime = pg_app.test_client(), pg_app.extensions["cryptopay"]
    email, merchant_id, key = _owner_with_key(client)
    user = runtime.user_admin.set_role(email, Role.PERSONAL, actor="ops:amina")
    assert user.role is Role.PERSONAL
    assert client.get("/v1/invoices", headers=key).status_code == 401
    revoked = [r for r in _revocations(runtime.services, merchant_id) if r["creator"] == user.id]
    assert [r["reason"] for r in revoked] == ["role_changed"]


def _revocations(services: Services, merchant_id: str) -> list[dict[str, str]]:
    with services.uow() as uow:
        records = uow.audit.records()
    return [
        dict(r.details) for r in records if r.action == "api_key.revoked" and dict(r.details)["merchant"] == merchant_id
    ]
