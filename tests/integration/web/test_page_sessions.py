"""The dashboard's and the portal's sessions are separate: one browser may be logged into both, each with its own
cookie and its own CSRF tokens (on the root's real SQL services, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD
from tests.integration.http.test_http_wallet import WalletApi, _api
from tests.integration.http_payments.payments_support import INSTANT
from tests.integration.web.test_portal_pages import _csrf, _post, _sign_up
from tests.support.mailbox import prove_email_in_app
from tests.support.sql_backends import migrated_sqlite

EMAIL = "owner@duka.example"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    yield from _api(env, tmp_path)


def _merchant_on_dashboard(client: FlaskClient) -> None:
    """A merchant with a profile, logged into the dashboard on ``client``."""
    registered = client.post("/v1/auth/register", json={"email": EMAIL, "password": PASSWORD, "role": "merchant"})
    assert registered.status_code == 202, registered.json
    token = client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}).json["access_token"]
    prove_email_in_app(client, EMAIL, {"Authorization": f"Bearer {token}"}, PASSWORD)
    made = client.post(
        "/v1/merchants",
        json={"business_name": "Duka Ltd", "settlement": INSTANT},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.json
    client.delete_cookie("cp_refresh")  # the API login's cookie plays no part on pages
    logged_in = _post(client, "/dashboard/login", "/dashboard/login", email=EMAIL, password=PASSWORD)
    assert logged_in.status_code == 303, logged_in.get_data(as_text=True)


def test_a_merchant_opening_the_portal_is_asked_to_log_in_not_refused(api: WalletApi):
    """A merchant logged into the dashboard who opens ``/app`` meets the portal's login page, not a 403."""
    _merchant_on_dashboard(api.client)
    home = api.client.get("/dashboard/")
    assert home.status_code == 200, home.text
    answer = api.client.get("/app/")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/app/login")
    assert api.client.get("/app/login").status_code == 200
    assert api.client.get_cookie("cp_session", path="/") is not None
    assert api.client.get_cookie("cp_app", path="/app") is None


def test_logging_into_one_face_keeps_the_other_and_logging_out_ends_only_its_own(api: WalletApi):
    """Dashboard and portal logins live side by side in one browser; logging out of the portal keeps the dashboard."""
    _merchant_on_dashboard(api.client)
    client = _sign_up(api)  # the same browser signs a personal wallet up on the portal
    assert client.get("/app/").status_code == 200
    assert client.get("/dashboard/").status_code == 200
    portal_cookie = client.get_cookie("cp_app", path="/app")
    assert portal_cookie is not None and portal_cookie.http_only
    assert client.post("/app/logout", data={"csrf_token": _csrf(client.get("/app/").text)}).status_code == 303
    assert client.get("/app/").status_code == 303
    assert client.get("/dashboard/").status_code == 200
    home = client.get("/dashboard/").text
    assert client.post("/dashboard/logout", data={"csrf_token": _csrf(home)}).status_code == 303
    assert client.get("/dashboard/").status_code == 303


def test_csrf_tokens_are_per_session(api: WalletApi):
    """A form token made for the dashboard's session is refused by the portal's forms, and the other way round."""
    _merchant_on_dashboard(api.client)
    client = _sign_up(api)
    dashboard_token = _csrf(client.get("/dashboard/invoices/new").text)
    portal_token = _csrf(client.get("/app/send").text)
    assert dashboard_token != portal_token
    send = {"csrf_token": dashboard_token, "to": "0712000009", "amount": "10", "asset": "KES", "idempotency_key": "k1"}
    assert client.post("/app/send", data=send).status_code == 403
    invoice = {"csrf_token": portal_token, "amount": "100", "currency": "KES"}
    assert client.post("/dashboard/invoices/new", data=invoice).status_code == 403


def test_a_dashboard_cookie_copied_into_the_portal_cookie_is_refused(api: WalletApi):
    """Each session cookie is signed for its own face: the dashboard's value under the portal's name is no login."""
    _merchant_on_dashboard(api.client)
    stolen = api.client.get_cookie("cp_session", path="/")
    assert stolen is not None
    api.client.set_cookie("cp_app", stolen.value, path="/app")
    answer = api.client.get("/app/")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/app/login")
