"""Helpers for the HTTP shell tests: settings, a probe blueprint standing in for payment resources, an auth helper.

The ``probe`` blueprint uses ``require(scope=...)`` and ``idempotent`` the way the payment resources will, so the
reusable guards are exercised through real HTTP requests before those resources exist.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pytest
from cryptopay.core.identity import Role
from cryptopay.core.money import Money
from cryptopay.core.testing.identity import StdlibTotp
from cryptopay_http import (
    ApiSettings,
    Services,
    create_app,
    current_principal,
    idempotent,
    json_response,
    operation,
    read_body,
    require,
)
from cryptopay_http.passwords import Argon2Hasher
from cryptopay_http.runtime import Runtime
from flask import Blueprint, Flask, current_app
from flask.testing import FlaskClient

from tests.support.mailbox import link_token, messages
from tests.support.services import with_api
from tests.support.sql_backends import migrated_sqlite, postgres_database

TOKEN_SECRET = "test-token-secret-" + "s" * 40
PASSWORD = "correct horse battery staple"


@attrs.frozen
class PaymentProbe:
    amount: Money
    reference: str


def probe_blueprint() -> Blueprint:
    """Stand-in resource routes that use require(scope=...) and idempotent like the payment resources will."""
    bp = Blueprint("probe", __name__)

    @bp.post("/v1/probe/payments")
    @operation("Probe: a money-moving POST", request=PaymentProbe, response=PaymentProbe, status=201)
    @require(scope="invoices:write")
    @idempotent
    def pay() -> Any:
        body = read_body(PaymentProbe)
        gate: threading.Event | None = current_app.config.get("PROBE_GATE")
        if gate is not None:
            current_app.config["PROBE_ENTERED"].set()
            gate.wait(5)
        counter = current_app.config.setdefault("PROBE_CALLS", [])
        counter.append(current_principal().id)
        if body.reference == "boom":
            raise RuntimeError("database password is hunter2")
        return json_response(body, 201)

    @bp.get("/v1/probe/invoices")
    @operation("Probe: a scoped read")
    @require(scope="invoices:read")
    def invoices() -> Any:
        return json_response({"merchant_id": current_principal().merchant_id})

    @bp.get("/v1/probe/crash")
    @operation("Probe: an unexpected crash")
    def crash() -> Any:
        raise RuntimeError(f"leaking {TOKEN_SECRET} via postgresql://app:hunter2@db/cryptopay")

    return bp


def make_app(services: Services, **settings: Any) -> Flask:
    options = {"token_secret": TOKEN_SECRET, "cookie_secure": False, "rate_limit": 1000, "auth_rate_limit": 1000}
    app = create_app(with_api(services, ApiSettings(**{**options, **settings})))
    app.register_blueprint(probe_blueprint())
    app.config["TESTING"] = True
    return app


class AuthActions:
    """Logs people in through the API; ``headers`` are ready-to-send Authorization headers."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client
        self._n = 0

    def register(self, email: str, role: str = "personal", password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post("/v1/auth/register", json={"email": email, "password": password, "role": role})
        assert response.status_code == 202, response.json
        return response.json

    def login(self, email: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        response = self.client.post("/v1/auth/login", json={"email": email, "password": password, **extra})
        assert response.status_code == 200, response.json
        return response.json

    def user(self, role: str = "personal") -> dict[str, str]:
        """Headers of a fresh logged-in user with this role (staff roles enrol TOTP and log in with a code)."""
        self._n += 1
        email = f"{role}{self._n}@example.co.ke"
        if role in ("admin", "compliance"):
            runtime: Runtime = self.app.extensions["cryptopay"]
            runtime.accounts.register(email, PASSWORD, role=Role(role))
            recovery = self.enrol_totp(bearer(self.login(email)["access_token"]))
            return bearer(self.login(email, code=recovery[0])["access_token"])
        self.register(email, role)
        headers = bearer(self.login(email)["access_token"])
        if role == "merchant":  # keys, webhooks and a payout destination need a proven email
            self.prove_email(email, headers)
        return headers

    def prove_email(self, email: str, headers: dict[str, str], password: str = PASSWORD) -> None:
        """Prove the email as its owner does: the emailed link's token, with the account's login and password."""
        runtime: Runtime = self.app.extensions["cryptopay"]
        token = link_token(messages(runtime.services.notifier), email)
        body = {"token": token, "password": password}
        response = self.client.post("/v1/auth/email/verify", json=body, headers=headers)
        assert response.status_code == 204, response.json

    def staff(self, role: str) -> tuple[dict[str, str], list[str]]:
        """A logged-in staff member (``admin`` or ``compliance``, with TOTP) and its unused recovery codes (each a
        one-time code for a step-up: ``stepped_up(headers, code=codes[0])``)."""
        self._n += 1
        email = f"{role}-staff{self._n}@cryptopay.example"
        runtime: Runtime = self.app.extensions["cryptopay"]
        runtime.accounts.register(email, PASSWORD, role=Role(role))
        codes = self.enrol_totp(bearer(self.login(email)["access_token"]))
        return bearer(self.login(email, code=codes[0])["access_token"]), codes[1:]

    def enrol_totp(self, headers: dict[str, str]) -> list[str]:
        """Enrol a TOTP second factor (step-up, enrol, confirm with the current code); returns the recovery codes."""
        runtime: Runtime = self.app.extensions["cryptopay"]
        stepped = self.stepped_up(headers)
        enrolment = self.client.post("/v1/auth/2fa/enrol", headers=stepped)
        assert enrolment.status_code == 200, enrolment.json
        now = int(runtime.services.clock.now().timestamp())
        code = StdlibTotp().code_at(enrolment.json["secret"], now)
        confirmed = self.client.post("/v1/auth/2fa/confirm", json={"code": code}, headers=headers)
        assert confirmed.status_code == 200, confirmed.json
        return list(confirmed.json["recovery_codes"])

    def merchant(self, name: str = "Duka Ltd") -> tuple[dict[str, str], str]:
        """Headers of a merchant user and the id of its new merchant profile."""
        headers = self.user("merchant")
        body = {"business_name": name, "settlement": SETTLEMENT}
        response = self.client.post("/v1/merchants", json=body, headers=headers)
        assert response.status_code == 201, response.json
        return headers, response.json["id"]

    def stepped_up(self, headers: dict[str, str], password: str = PASSWORD, code: str | None = None) -> dict[str, str]:
        """The headers plus a fresh step-up token (``POST /v1/auth/step-up`` with the password, or with a one-time
        code, which an account with two-factor authentication must use)."""
        body = {"code": code} if code else {"password": password}
        response = self.client.post("/v1/auth/step-up", json=body, headers=headers)
        assert response.status_code == 200, response.json
        return {**headers, "X-Step-Up-Token": response.json["step_up_token"]}

    def api_key(self, headers: dict[str, str], merchant_id: str, scopes: list[str]) -> str:
        """The secret of a new API key with these scopes (created after a step-up)."""
        body = {"name": "shop", "scopes": scopes}
        path = f"/v1/merchants/{merchant_id}/api-keys"
        response = self.client.post(path, json=body, headers=self.stepped_up(headers))
        assert response.status_code == 201, response.json
        return response.json["secret"]


SETTLEMENT = {"schedule": "daily", "method": "mpesa_b2c", "destination": "0712345678"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fast_hasher() -> Argon2Hasher:
    """Argon2 at its cheapest settings, so logging in stays fast in tests."""
    return Argon2Hasher(time_cost=1, memory_cost=1024)


# Shared fixtures: each conftest imports them and supplies its own ``services``.


@pytest.fixture
def app(services: Services) -> Flask:
    """The app over the conftest's services, with the probe blueprint."""
    return make_app(services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth(app: Flask, client: FlaskClient) -> AuthActions:
    return AuthActions(app, client)


@contextmanager
def database_env(request: pytest.FixtureRequest, env: dict[str, str], database: str) -> Iterator[dict[str, str]]:
    """The root's settings for a fixture parametrised ``sqlite``/``postgres``: ``env`` as it is on SQLite (its
    database as ``env`` names it, or the root's default in its data dir, put there migrated: ``migrated_sqlite``),
    or with ``CRYPTOPAY_DATABASE_URL`` on a fresh, migrated PostgreSQL database named ``database`` (a copy of the
    template, see ``postgres_database``).

        with database_env(request, {"CRYPTOPAY_DATA_DIR": str(tmp_path)}, "cryptopay_http_wallet") as env:
            yield from _api(env, tmp_path)
    """
    if request.param == "sqlite":
        migrated_sqlite(env)
        yield env
    else:
        with postgres_database(request.getfixturevalue("postgres_admin_url"), database) as url:
            yield {**env, "CRYPTOPAY_DATABASE_URL": url}
