"""A revoked API key is refused on the very next request by every API process (#17: "a short-lived cache that
honours revocation at once"), while a key in use costs no database or Redis round trip per request.

Two apps built from the production composition (``build(Settings)``), as two API processes are: each its own
database pool, Redis clients, identity epoch listener and key cache, sharing one PostgreSQL and one Redis.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.adapters.sql import upgrade
from cryptopay_http.app import create_app
from flask.testing import FlaskClient
from redis.client import PubSub
from redis.connection import AbstractConnection

from tests.support.mailbox import prove_email_in_app

pytestmark = pytest.mark.redis

PASSWORD = "a long passphrase"


@pytest.fixture(scope="module")
def two_apps(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FlaskClient, FlaskClient]]:
    upgrade(database_url)
    env = {
        "CRYPTOPAY_DATABASE_URL": database_url,
        "CRYPTOPAY_REDIS_URL": redis_url,
        "CRYPTOPAY_DEPLOYMENT": f"revoke{uuid.uuid4().hex[:8]}",  # its own Redis keys: epoch, limits
        "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
        "CRYPTOPAY_COOKIE_SECURE": "false",
    }
    built: list[Services] = []
    clients = []
    env["CRYPTOPAY_DATA_DIR"] = str(tmp_path_factory.mktemp("revoke"))  # one host: the same vault key
    for _ in ("a", "b"):
        services = build(Settings.from_env(env))
        built.append(services)
        clients.append(create_app(services).test_client())
    yield clients[0], clients[1]
    for services in built:
        services.close()


@pytest.fixture
def slow_listeners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whichever thread reads an announcement loses the CPU for a while before it can apply it (a busy process):
    a request must not be answered from the stale copy meanwhile."""
    real = PubSub.get_message

    def slow(self: PubSub, *args: object, **kwargs: object) -> object:
        message = real(self, *args, **kwargs)  # type: ignore[arg-type]
        if message is not None and message["type"] == "message":
            time.sleep(0.3)
        return message

    monkeypatch.setattr(PubSub, "get_message", slow)


def _owner(client: FlaskClient) -> tuple[str, dict[str, str]]:
    """A merchant's id and its owner's headers (logged in, with a fresh step-up)."""
    email = f"revoke-{uuid.uuid4().hex[:6]}@example.co.ke"
    body = {"email": email, "password": PASSWORD, "role": "merchant"}
    assert client.post("/v1/auth/register", json=body).status_code == 202

    def login() -> dict[str, str]:
        answer = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        return {"authorization": f"Bearer {answer.json['access_token']}"}  # type: ignore[index]

    prove_email_in_app(client, email, login(), PASSWORD)
    settlement = {"schedule": "daily", "method": "mpesa_b2c", "destination": "254708374149"}
    merchant = client.post(
        "/v1/merchants", json={"business_name": "Revoker", "settlement": settlement}, headers=login()
    )
    assert merchant.status_code == 201, merchant.json
    headers = login()
    step = client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=headers).json["step_up_token"]  # type: ignore[index]
    return str(merchant.json["id"]), {**headers, "X-Step-Up-Token": step}  # type: ignore[index]


def _redis_sent(client_thread: int, sent: list[str]) -> object:
    real = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        if threading.get_ident() == client_thread:  # not the epoch listener's pings
            sent.append(repr(command)[:60])
        real(self, command, check_health)

    return counting


def test_a_key_revoked_in_one_process_is_refused_by_the_other_on_its_next_request(
    two_apps, monkeypatch, slow_listeners
) -> None:
    """B serves the key from its cache (no Redis round trip for the key or the epoch); A revokes it; B's very next
    request is a 401, with no wait in between, however slow B's listener is to apply the announcement."""
    a, b = two_apps
    merchant_id, owner = _owner(a)
    for n in range(4):
        body = {"name": f"shop {n}", "scopes": ["invoices:read"]}
        created = a.post(f"/v1/merchants/{merchant_id}/api-keys", json=body, headers=owner)
        assert created.status_code == 201, created.json
        key_id, key = created.json["key"]["id"], {"authorization": f"Bearer {created.json['secret']}"}  # type: ignore[index]
        for _ in range(3):  # the first read caches the key in B
            assert b.get("/v1/invoices", headers=key).status_code == 200
        sent: list[str] = []
        monkeypatch.setattr(AbstractConnection, "send_packed_command", _redis_sent(threading.get_ident(), sent))
        assert b.get("/v1/invoices", headers=key).status_code == 200
        monkeypatch.undo()
        assert not [command for command in sent if "EVALSHA" not in command], sent  # at most the rate limit's lease
        assert a.delete(f"/v1/merchants/{merchant_id}/api-keys/{key_id}", headers=owner).status_code == 204
        refused = b.get("/v1/invoices", headers=key)
        assert refused.status_code == 401, (n, refused.status_code)
        assert a.get("/v1/invoices", headers=key).status_code == 401


def test_a_logout_in_one_process_ends_the_login_in_the_other_on_its_next_request(two_apps, slow_listeners) -> None:
    """The same for a user's login: B has its session state cached; A logs it out; B's next request is a 401."""
    a, b = two_apps
    email = f"logout-{uuid.uuid4().hex[:6]}@example.co.ke"
    assert (
        a.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "role": "personal"}).status_code == 202
    )
    for _ in range(3):
        login = a.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json
        headers = {"authorization": f"Bearer {login['access_token']}"}  # type: ignore[index]
        for _ in range(3):
            seen = b.get("/v1/me", headers=headers)
            assert seen.status_code == 200, seen.json
        assert a.post("/v1/auth/logout", json={"refresh_token": login["refresh_token"]}).status_code == 204  # type: ignore[index]
        assert b.get("/v1/me", headers=headers).status_code == 401
