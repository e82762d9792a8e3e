"""R9-7: the dashboard and console's own settings page: change the password, sign out everywhere, two-step sign-in
(a new staff login without a second factor is sent there from the console's 403 and enrols on the page)."""

from __future__ import annotations

import base64
import html
import re

from cryptopay.core.identity import Role
from cryptopay.core.testing.identity import StdlibTotp
from cryptopay_http.pages.web import qr_data_uri

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.web.test_dashboard_pages import EMAIL, _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner

NEW = "another long passphrase"


def _actions(services) -> list[str]:
    return [record.action for record in services.audit.records()]


def test_a_merchant_changes_the_password_and_every_login_ends(client, owner, auth, services):
    other = auth.login(EMAIL)  # another device's login
    _log_in(client)
    page = client.get("/dashboard/settings")
    assert page.status_code == 200 and "/dashboard/settings/password" in page.get_data(as_text=True)
    token = _csrf(page.get_data(as_text=True))
    body = {"csrf_token": token, "current_password": "not it at all", "new_password": NEW, "new_password_again": NEW}
    wrong = client.post("/dashboard/settings/password", data=body)
    assert wrong.status_code == 401 and "auth.password_change_failed" in _actions(services)
    assert client.get("/dashboard/").status_code == 200  # a refusal changes nothing
    differ = client.post(
        "/dashboard/settings/password", data={**body, "current_password": PASSWORD, "new_password_again": "x" * 20}
    )
    assert differ.status_code == 422
    without_csrf = client.post(
        "/dashboard/settings/password", data={**body, "csrf_token": "", "current_password": PASSWORD}
    )
    assert without_csrf.status_code in (400, 403)
    auth.login(EMAIL)  # still the old password
    changed = client.post("/dashboard/settings/password", data={**body, "current_password": PASSWORD})
    assert changed.status_code == 303 and changed.headers["Location"] == "/dashboard/login?changed=1"
    assert client.get("/dashboard/").status_code == 303  # this page session ended
    assert client.get("/v1/me", headers=bearer(other["access_token"])).status_code == 401  # and the other login
    assert client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 401
    assert "auth.password_changed" in _actions(services)
    _log_in(client, NEW)
    assert client.get("/dashboard/").status_code == 200


def test_sign_out_everywhere_ends_every_login_and_is_in_swahili(client, owner, auth, services):
    other = auth.login(EMAIL)
    _log_in(client)
    client.get("/lang/sw?next=/dashboard/settings")
    page = client.get("/dashboard/settings").get_data(as_text=True)
    assert 'lang="sw"' in page and "Sign out everywhere" not in page
    ended = client.post("/dashboard/settings/sign-out-everywhere", data={"csrf_token": _csrf(page)})
    assert ended.status_code == 303
    assert client.get("/dashboard/settings").status_code == 303
    assert client.get("/v1/me", headers=bearer(other["access_token"])).status_code == 401
    assert dict([r for r in services.audit.records() if r.action == "auth.sessions_ended"][-1].details)["reason"] == (
        "signed out everywhere"
    )


def test_a_new_admin_is_sent_from_the_console_to_enrol_on_the_settings_page(app, client, services):
    app.extensions["cryptopay"].accounts.register("fresh@cryptopay.example", PASSWORD, role=Role.ADMIN)
    form = client.get("/dashboard/login").get_data(as_text=True)
    body = {"email": "fresh@cryptopay.example", "password": PASSWORD, "csrf_token": _csrf(form)}
    assert client.post("/dashboard/login", data=body).status_code == 303
    refused = client.get("/console/health")
    assert refused.status_code == 403 and 'href="/dashboard/settings#two-factor"' in refused.get_data(as_text=True)
    page = client.get("/dashboard/settings").get_data(as_text=True)
    assert "/dashboard/settings/2fa/enrol" in page
    started = client.post("/dashboard/settings/2fa/enrol", data={"csrf_token": _csrf(page), "password": PASSWORD})
    shown = started.get_data(as_text=True)
    assert started.status_code == 200 and started.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', shown).group(1)
    code = StdlibTotp().code_at(secret, int(services.clock.now().timestamp()))
    confirmed = client.post("/dashboard/settings/2fa/confirm", data={"csrf_token": _csrf(shown), "code": code})
    assert confirmed.status_code == 200 and 'class="codes"' in confirmed.get_data(as_text=True)
    recovery = re.findall(r"<li><code>([^<]+)</code></li>", confirmed.get_data(as_text=True))
    form = client.get("/dashboard/login").get_data(as_text=True)
    login = {**body, "csrf_token": _csrf(form), "code": recovery[0], "next": "/console/audit"}
    assert client.post("/dashboard/login", data=login).status_code == 303
    assert client.get("/console/audit").status_code == 200
    staff_page = client.get("/dashboard/settings").get_data(as_text=True)
    assert "/dashboard/settings/2fa/remove" not in staff_page and "/console/" in staff_page


def test_a_refused_new_password_marks_its_input_and_a_change_is_not_a_failure(client, owner, auth, app):
    """LASTREAD2 M-4: the core's refusal of the new password (``field="password"``) marks the page's new_password
    input, a wrong current password the current_password one; a successful change takes its count back, so
    ``limit - 1`` failures and a change leave room for the next login."""
    _log_in(client)
    token = _csrf(client.get("/dashboard/settings").get_data(as_text=True))
    body = {"csrf_token": token, "current_password": PASSWORD, "new_password": "short", "new_password_again": "short"}
    short = client.post("/dashboard/settings/password", data=body)
    assert short.status_code == 422
    marked = re.findall(r'<input id="(\w+)"[^>]*aria-invalid', short.get_data(as_text=True))
    assert marked == ["new_password"], marked
    limit = app.extensions["cryptopay"].settings.login_account_limit
    for _ in range(limit - 2):  # with the short one: limit - 1 failures
        wrong = client.post("/dashboard/settings/password", data={**body, "current_password": "not it at all"})
        assert wrong.status_code == 401
    marked = re.findall(r'<input id="(\w+)"[^>]*aria-invalid', wrong.get_data(as_text=True))
    assert marked == ["current_password"], marked
    changed = client.post("/dashboard/settings/password", data={**body, "new_password": NEW, "new_password_again": NEW})
    assert changed.status_code == 303
    assert auth.login(EMAIL, NEW)["access_token"]  # not 429: the change was not counted as a failure


def test_page_and_api_agree_a_staff_login_without_a_second_factor_may_change_its_password(client, app):
    """LASTREAD2 M-4: the settings page lets a new staff login (no second factor yet) change its password; so does
    ``POST /v1/auth/password`` now (it refused with 403 before)."""
    email = "new-admin@cryptopay.example"
    app.extensions["cryptopay"].accounts.register(email, PASSWORD, role=Role.ADMIN)
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.json
    body = {"current_password": PASSWORD, "new_password": NEW}
    changed = client.post("/v1/auth/password", json=body, headers=bearer(login.json["access_token"]))
    assert changed.status_code == 204, changed.json
    assert client.post("/v1/auth/login", json={"email": email, "password": NEW}).status_code == 200


def test_enrolling_shows_the_key_as_a_qr_code_drawn_here_and_as_text(client, owner, auth, services):
    """smallfix: the settings page's enrolment showed only the key and the otpauth link (nothing to scan from a
    computer). It now shows a QR code of the otpauth URI, drawn server-side as an inline SVG (no other host), with
    an alternative text in the page's language, and the key as text still beside it."""
    _log_in(client)
    client.get("/lang/sw?next=/dashboard/settings")
    page = client.get("/dashboard/settings").get_data(as_text=True)
    started = client.post("/dashboard/settings/2fa/enrol", data={"csrf_token": _csrf(page), "password": PASSWORD})
    shown = started.get_data(as_text=True)
    assert started.status_code == 200 and started.headers["Cache-Control"] == "no-store"
    uri = html.unescape(re.search(r'<a href="(otpauth://[^"]+)"', shown).group(1))
    image = re.search(r'<img class="qr" src="([^"]+)"[^>]* alt="([^"]+)"', shown)
    assert image.group(1) == qr_data_uri(uri) and image.group(1).startswith("data:image/svg+xml;base64,")
    assert "<svg" in base64.b64decode(image.group(1).split(",", 1)[1]).decode()
    assert image.group(2).startswith("Msimbo wa QR")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', shown).group(1)
    assert f"secret={secret}" in uri
