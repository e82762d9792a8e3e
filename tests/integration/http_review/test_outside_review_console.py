"""Outside review: the admin console and the new portal pages as a visitor, a merchant and the wrong staff role.

Every console page and form is closed to a visitor (sent to log in), to a merchant (403) and, for an officer's
desk, to an admin (403); a console form without its CSRF token changes nothing; a login ``next`` pointing off site
lands on the site.
"""

from __future__ import annotations

import pytest
from cryptopay.core.identity import Role

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.http_review.test_outside_review_staff import _applied
from tests.integration.web.test_dashboard_pages import _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner

CONSOLE_GETS = [
    "/console/",
    "/console/kyc",
    "/console/kyc/app_1",
    "/console/kyc/app_1/documents/doc_1",
    "/console/kyc/app_1/documents/doc_1/content",
    "/console/alerts",
    "/console/cases",
    "/console/cases/case_1",
    "/console/accounts",
    "/console/accounts/usr_1",
    "/console/search?q=x",
    "/console/reconciliation",
    "/console/treasury",
    "/console/health",
    "/console/audit",
]
CONSOLE_POSTS = [
    "/console/kyc/app_1/claim",
    "/console/kyc/app_1/approve",
    "/console/kyc/app_1/reject",
    "/console/kyc/app_1/request-information",
    "/console/alerts/case",
    "/console/cases/case_1/notes",
    "/console/cases/case_1/status",
    "/console/cases/case_1/assign",
    "/console/cases/case_1/str",
    "/console/cases/case_1/filing",
    "/console/accounts/usr_1/freeze",
    "/console/accounts/usr_1/unfreeze",
    "/console/accounts/usr_1/role",
]


def _staff_login(app, client, auth, email: str, role: Role) -> None:
    runtime = app.extensions["cryptopay"]
    runtime.accounts.register(email, PASSWORD, role=role)
    recovery = auth.enrol_totp(bearer(auth.login(email)["access_token"]))
    form = client.get("/dashboard/login").get_data(as_text=True)
    body = {"email": email, "password": PASSWORD, "csrf_token": _csrf(form), "code": recovery[0]}
    done = client.post("/dashboard/login", data={**body, "next": "/console/"})
    assert done.status_code == 303, done.get_data(as_text=True)[:300]


def test_a_visitor_and_a_merchant_cannot_open_or_post_to_any_console_page(app, client, owner):
    for path in CONSOLE_GETS:
        answer = client.get(path)
        assert answer.status_code in (303, 401, 403), (path, answer.status_code)
        if answer.status_code == 303:
            assert answer.headers["Location"].startswith("/dashboard/login"), path
    for path in CONSOLE_POSTS:
        answer = client.post(path, data={"role": "admin", "note": "x"})
        assert answer.status_code in (303, 400, 401, 403), (path, answer.status_code)
    _log_in(client)
    token = _csrf(client.get("/dashboard/").get_data(as_text=True))
    for path in CONSOLE_GETS:
        assert client.get(path).status_code == 403, path
    for path in CONSOLE_POSTS:
        answer = client.post(path, data={"csrf_token": token, "role": "admin", "status": "closed"})
        assert answer.status_code == 403, (path, answer.status_code)


def test_an_admin_cannot_use_the_officer_s_kyc_desk_or_document_viewer(app, client, auth):
    _staff_login(app, client, auth, "chief@cryptopay.example", Role.ADMIN)
    for path in ("/console/kyc", "/console/kyc/app_1/documents/doc_1", "/console/kyc/app_1/documents/doc_1/content"):
        answer = client.get(path)
        assert answer.status_code in (403, 404), (path, answer.status_code)
        assert answer.status_code == 403 or path != "/console/kyc", path


@pytest.mark.parametrize(
    "path", ["/console/accounts/usr_1/freeze", "/console/accounts/usr_1/role", "/console/cases/case_1/notes"]
)
def test_a_console_form_without_its_csrf_token_is_refused(app, client, auth, path):
    _staff_login(app, client, auth, "chief@cryptopay.example", Role.ADMIN)
    answer = client.post(path, data={"role": "admin", "note": "x", "reason": "x"})
    assert answer.status_code in (400, 403), (path, answer.status_code)
    forged = client.post(path, data={"csrf_token": "x" * 43, "role": "admin", "note": "x", "reason": "x"})
    assert forged.status_code in (400, 403), (path, forged.status_code)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "/%2F%2Fevil.example",
        "https:evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "/\t/evil.example",
        "/console/\r\nSet-Cookie: x=1",
    ],
)
def test_a_login_next_never_leaves_the_site(app, client, auth, target):
    runtime = app.extensions["cryptopay"]
    runtime.accounts.register("chief@cryptopay.example", PASSWORD, role=Role.ADMIN)
    recovery = auth.enrol_totp(bearer(auth.login("chief@cryptopay.example")["access_token"]))
    form = client.get("/dashboard/login").get_data(as_text=True)
    body = {"email": "chief@cryptopay.example", "password": PASSWORD, "csrf_token": _csrf(form)}
    done = client.post("/dashboard/login", data={**body, "code": recovery[0], "next": target})
    assert done.status_code in (303, 400), done.status_code
    if done.status_code == 303:
        location = done.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        assert "evil" not in location and "\n" not in location and "Set-Cookie" not in location, location


def test_the_console_document_viewer_keeps_each_document_under_its_own_application(app, client, auth):
    """An officer's viewer: a document read through another application's URL is a 404 page, never its bytes;
    a document's bytes come with no-store, a sandbox CSP and nosniff."""
    first, first_doc = _applied(client, auth.user("personal"))
    second, second_doc = _applied(client, auth.user("personal"))
    officer = app.test_client()
    _staff_login(app, officer, auth, "officer@cryptopay.example", Role.COMPLIANCE)
    own = officer.get(f"/console/kyc/{first}/documents/{first_doc}/content")
    assert own.status_code == 200, own.status_code
    assert own.headers["Cache-Control"] == "no-store" and "sandbox" in own.headers["Content-Security-Policy"]
    assert own.headers.get("X-Content-Type-Options") == "nosniff"
    for path in (
        f"/console/kyc/{first}/documents/{second_doc}",
        f"/console/kyc/{first}/documents/{second_doc}/content",
        f"/console/kyc/{second}/documents/{first_doc}/content",
        f"/console/kyc/{first}/documents/%00/content",
        f"/console/kyc/{'x' * 3000}/documents/{first_doc}/content",
    ):
        answer = officer.get(path)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        assert answer.content_type.startswith("text/html"), (path, answer.content_type)
