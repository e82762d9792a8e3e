"""The admin console's audit log: staff with a second factor only; newest first; the chain verified on request."""

from __future__ import annotations

import re

from cryptopay.core.identity import Role

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.web.test_dashboard_pages import EMAIL, _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner


def _staff_login(app, client, auth) -> None:
    """An admin enrolled in TOTP, logged in on the page with a recovery code."""
    runtime = app.extensions["cryptopay"]
    runtime.accounts.register("chief@cryptopay.example", PASSWORD, role=Role.ADMIN)
    recovery = auth.enrol_totp(bearer(auth.login("chief@cryptopay.example")["access_token"]))
    form = client.get("/dashboard/login?next=/console/audit").get_data(as_text=True)
    body = {"email": "chief@cryptopay.example", "password": PASSWORD, "csrf_token": _csrf(form)}
    asked = client.post("/dashboard/login", data={**body, "next": "/console/audit"})
    assert asked.status_code == 401 and 'name="code"' in asked.get_data(as_text=True)
    done = client.post("/dashboard/login", data={**body, "code": recovery[0], "next": "/console/audit"})
    assert done.status_code == 303 and done.headers["Location"] == "/console/audit"


def test_the_audit_log_shows_the_latest_records_and_verifies_the_chain(app, client, auth, shop):
    """An admin sees the newest records first and, on request, that the hash chain is intact."""
    for amount in ("100", "200", "300"):
        shop.invoice(amount)  # audited in the payments' own chain (the in-memory stack keeps it apart from logins)
    _staff_login(app, client, auth)
    page = client.get("/console/audit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "invoice.create" in html and "Verify the whole chain" in html
    seqs = [int(s) for s in re.findall(r'<tr><td class="first">(\d+)</td>', html)]
    assert seqs == sorted(seqs, reverse=True) and seqs
    verified = client.get("/console/audit?verify=1").get_data(as_text=True)
    assert "Intact" in verified
    for before in ("9" * 999, "\u00b2", "-3"):  # not a record's number: the newest (R9-5: never int() of raw text)
        assert client.get(f"/console/audit?before={before}").status_code == 200


def test_merchants_and_visitors_cannot_open_the_console(client, owner):
    """A visitor is sent to the login page; a merchant gets 403."""
    visitor = client.get("/console/audit")
    assert visitor.status_code == 303 and visitor.headers["Location"].startswith("/dashboard/login")
    _log_in(client)
    assert client.get("/console/audit").status_code == 403


def test_a_staff_login_without_a_second_factor_is_refused(app, client):
    """An admin who has not enrolled 2FA cannot use the console (403), whatever the password."""
    app.extensions["cryptopay"].accounts.register("new@cryptopay.example", PASSWORD, role=Role.ADMIN)
    form = client.get("/dashboard/login").get_data(as_text=True)
    body = {"email": "new@cryptopay.example", "password": PASSWORD, "csrf_token": _csrf(form), "next": "/console/audit"}
    assert client.post("/dashboard/login", data=body).status_code == 303
    assert client.get("/console/audit").status_code == 403


def test_a_staff_login_lands_on_the_console_not_the_merchants_dashboard(app, client, auth):
    """A staff login bound for the dashboard (no next, or a dashboard page) goes to the console, whose home answers
    it, not to the dashboard's 403 "for merchants"; one without a second factor yet goes to its settings to enrol
    one; a console page named by next is kept, and a merchant still lands on the dashboard."""
    runtime = app.extensions["cryptopay"]
    runtime.accounts.register("chief@cryptopay.example", PASSWORD, role=Role.ADMIN)
    recovery = auth.enrol_totp(bearer(auth.login("chief@cryptopay.example")["access_token"]))

    def signed_in(browser, target: str):
        form = browser.get("/dashboard/login").get_data(as_text=True)
        body = {"email": "chief@cryptopay.example", "password": PASSWORD, "csrf_token": _csrf(form)}
        return browser.post("/dashboard/login", data={**body, "code": recovery.pop(), "next": target})

    for target in ("", "/dashboard", "/dashboard/invoices"):
        landed = signed_in(app.test_client(), target)
        assert landed.status_code == 303 and landed.headers["Location"] == "/console/", target
    assert signed_in(client, "/console/audit").headers["Location"] == "/console/audit"  # a console page is kept
    assert client.get("/dashboard/login").headers["Location"] == "/console/"  # already signed in
    assert client.get("/console/").status_code == 303  # the console's home: its first page for the role
    newcomer = app.test_client()
    runtime.accounts.register("new@cryptopay.example", PASSWORD, role=Role.COMPLIANCE)
    form = newcomer.get("/dashboard/login").get_data(as_text=True)
    fresh = {"email": "new@cryptopay.example", "password": PASSWORD, "csrf_token": _csrf(form)}
    landed = newcomer.post("/dashboard/login", data=fresh)
    assert landed.status_code == 303 and landed.headers["Location"] == "/dashboard/settings"
    assert newcomer.get("/dashboard/settings").status_code == 200


def test_a_merchant_login_still_lands_on_the_dashboard(client, owner):
    """The landing rule is staff's alone."""
    form = client.get("/dashboard/login").get_data(as_text=True)
    body = {"email": EMAIL, "password": PASSWORD, "csrf_token": _csrf(form)}
    landed = client.post("/dashboard/login", data=body)
    assert landed.status_code == 303 and landed.headers["Location"] == "/dashboard"
