"""Outside review: KYC documents and applications between customers, and the staff roles (officer vs admin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core import flows
from cryptopay.core.money import KES, Money
from flask.testing import FlaskClient

from tests.integration.http.http_support import AuthActions, make_app
from tests.integration.http.test_http_kyc import PERSON, upload
from tests.integration.http_payments.payments_support import idem
from tests.support.kyc_rig import photo

PROBLEM = "application/problem+json"


def _problem(answer, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == PROBLEM, answer.content_type


def _applied(client, headers) -> tuple[str, str]:
    created = client.post("/v1/kyc/applications", json=PERSON, headers=headers)
    assert created.status_code == 201, created.json
    document = upload(client, headers, created.json["id"], "id_front", photo())
    assert document.status_code == 201, document.json
    return created.json["id"], document.json["id"]


def test_a_customer_cannot_upload_to_submit_or_read_another_s_application(client, auth):
    amina, baraka = auth.user("personal"), auth.user("personal")
    app_id, _ = _applied(client, amina)
    _problem(upload(client, baraka, app_id, "id_back", photo()), 404)
    _problem(client.post(f"/v1/kyc/applications/{app_id}/submit", headers=baraka), 404)
    _problem(client.get(f"/v1/admin/kyc/applications/{app_id}", headers=baraka), 403)
    mine = client.get("/v1/kyc", headers=amina).json
    assert "id_back" not in str(mine.get("documents", ""))


def test_a_document_is_read_only_under_its_own_application_and_only_by_an_officer(client, auth):
    amina, baraka = auth.user("personal"), auth.user("personal")
    first, first_doc = _applied(client, amina)
    second, second_doc = _applied(client, baraka)
    officer, admin = auth.user("compliance"), auth.user("admin")
    own = client.get(f"/v1/admin/kyc/applications/{first}/documents/{first_doc}", headers=officer)
    assert own.status_code == 200
    crossed = client.get(f"/v1/admin/kyc/applications/{first}/documents/{second_doc}", headers=officer)
    _problem(crossed, 404)
    for headers in (admin, amina):
        _problem(client.get(f"/v1/admin/kyc/applications/{second}/documents/{second_doc}", headers=headers), 403)


def test_officers_and_admins_keep_to_their_own_desks(client, auth):
    officer, admin = auth.user("compliance"), auth.user("admin")
    _problem(client.get("/v1/admin/treasury", headers=officer), 403)
    body = {"asset": "USDT", "amount": "1000", "network": "tron", "reference": "TX-1"}
    _problem(client.post("/v1/admin/treasury/topups", json=body, headers=idem(officer)), 403)
    _problem(client.get("/v1/admin/compliance/cases", headers=admin), 403)
    _problem(client.get("/v1/admin/kyc/queue", headers=admin), 403)
    assert client.get("/v1/admin/compliance/cases", headers=officer).status_code == 200


def test_a_staff_login_without_a_second_factor_gets_no_staff_route(client, auth, app):
    from cryptopay.core.identity import Role

    from tests.integration.http.http_support import PASSWORD, bearer

    runtime = app.extensions["cryptopay"]
    for role in (Role.ADMIN, Role.COMPLIANCE):
        email = f"no2fa-{role.value}@example.co.ke"
        runtime.accounts.register(email, PASSWORD, role=role)
        login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        if login.status_code != 200:
            _problem(login, 401, 403)
            continue
        headers = bearer(login.json["access_token"])
        for path in ("/v1/admin/treasury", "/v1/admin/compliance/cases", "/v1/admin/kyc/queue"):
            _problem(client.get(path, headers=headers), 401, 403)


@pytest.fixture
def root_client(tmp_path) -> Iterator[tuple[Services, FlaskClient, AuthActions]]:
    services = build(Settings.for_data_dir(tmp_path))
    app = make_app(services)
    client = app.test_client()
    yield services, client, AuthActions(app, client)
    services.close()


def test_odd_treasury_entries_are_4xx_problems_and_a_reused_reference_books_once(root_client):
    services, client, auth = root_client
    admin = auth.user("admin")
    for amount in ("-100", "0", "NaN", "1e12", "100.001", "99999999999999999999"):
        answer = client.post(
            "/v1/admin/treasury/topups", json={"amount": amount, "reference": "BANK-1"}, headers=idem(admin)
        )
        _problem(answer, 400, 409, 422)
    for reference in ("BANK 1", "BANK-1\u0000", "", "\u202eBANK"):
        answer = client.post(
            "/v1/admin/treasury/topups", json={"amount": "100", "reference": reference}, headers=idem(admin)
        )
        _problem(answer, 400, 422)
    conversion = {"reference": "OTC-1", "network": "tron", "venue": "Desk", "fills": [{"amount": "-5", "price": "130"}]}
    _problem(client.post("/v1/admin/treasury/conversions", json=conversion, headers=idem(admin)), 400, 409, 422)
    zero_price = {**conversion, "fills": [{"amount": "5", "price": "0"}]}
    _problem(client.post("/v1/admin/treasury/conversions", json=zero_price, headers=idem(admin)), 400, 409, 422)
    blank_venue = {**conversion, "venue": "   ", "fills": [{"amount": "5", "price": "130"}]}
    _problem(client.post("/v1/admin/treasury/conversions", json=blank_venue, headers=idem(admin)), 400, 409, 422)
    assert client.get("/v1/admin/treasury", headers=admin).json["mpesa_float"]["books"] == "0.00"
    body = {"amount": "100", "reference": "BANK-2"}
    first = client.post("/v1/admin/treasury/topups", json=body, headers=idem(admin))
    assert first.status_code == 201, first.get_data(as_text=True)
    again = client.post("/v1/admin/treasury/topups", json=body, headers=idem(admin))
    assert again.status_code in (200, 201, 409), again.get_data(as_text=True)
    assert services.ledger.balance(flows.FLOAT).posted == Money.of(100, KES)
