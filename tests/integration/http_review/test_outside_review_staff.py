"""Outside review: KYC documents and applications between customers, and the staff roles (officer vs admin)."""

from __future__ import annotations

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
