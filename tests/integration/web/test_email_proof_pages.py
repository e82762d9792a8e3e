"""The email-proof pages the emailed links open (``/verify-email``, ``/verify-email/release``) and the dashboard's
refusal of keys and webhooks while the email is unproven, in English and Swahili (review G11)."""

from __future__ import annotations

import secrets

from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.web.test_dashboard_pages import _csrf
from tests.support.mailbox import link_token

EMAIL = "amina@duka.co.ke"
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")


def _dashboard_login(client) -> None:
    form = client.get("/dashboard/login").get_data(as_text=True)
    body = {"email": EMAIL, "password": PASSWORD, "csrf_token": _csrf(form)}
    assert client.post("/dashboard/login", data=body).status_code == 303


def test_the_release_page_disables_the_account_with_the_link_alone(client, auth, services):
    """No login: the page's form (CSRF) posts the token; the account loses the address; in Swahili too."""
    auth.register(EMAIL, "merchant")
    user_id = services.users.by_email(EMAIL).id
    client.set_cookie("cp_lang", "sw")
    form = client.get("/verify-email/release")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "Si mimi" in html and "data-fragment-token" in html
    token = link_token(services.notifier.sent, EMAIL, release=True)
    assert client.post("/verify-email/release", data={"token": token}).status_code == 403  # no CSRF token
    done = client.post("/verify-email/release", data={"token": token, "csrf_token": _csrf(html)})
    assert done.status_code == 200 and "Akaunti imezimwa" in done.get_data(as_text=True)
    assert services.users.get(user_id).email is None
    again = client.post("/verify-email/release", data={"token": token, "csrf_token": _csrf(html)})
    assert again.status_code == 422


def test_the_verify_page_needs_the_dashboard_login_and_the_password(client, auth, services):
    """Without a dashboard login the page says to log in and proves nothing; logged in, a wrong password is refused
    and the right one proves the email."""
    auth.register(EMAIL, "merchant")
    token = link_token(services.notifier.sent, EMAIL)
    assert "/dashboard/login" in client.get("/verify-email").get_data(as_text=True)  # no form without a login
    html = client.get("/verify-email/release").get_data(as_text=True)  # a form's CSRF token, to post anyway
    anonymous = client.post("/verify-email", data={"token": token, "password": PASSWORD, "csrf_token": _csrf(html)})
    assert anonymous.status_code == 401 and "/dashboard/login" in anonymous.get_data(as_text=True)
    _dashboard_login(client)
    html = client.get("/verify-email").get_data(as_text=True)
    assert 'name="password"' in html
    wrong = client.post(
        "/verify-email", data={"token": token, "password": "not the password", "csrf_token": _csrf(html)}
    )
    assert wrong.status_code == 403 and services.users.by_email(EMAIL).email_verified_at is None
    done = client.post("/verify-email", data={"token": token, "password": PASSWORD, "csrf_token": _csrf(html)})
    assert done.status_code == 200 and services.users.by_email(EMAIL).email_verified_at is not None


def test_the_dashboard_refuses_keys_and_webhooks_until_the_email_is_proven(client, auth, services, app):
    """An owner from before the rule sees why (Swahili), its key and endpoint forms are 403 and make nothing, and
    it can ask for a new link from the page."""
    auth.register(EMAIL, "merchant")
    owner = services.users.by_email(EMAIL)
    merchant = app.extensions["cryptopay"].merchants.create(owner, business_name="Duka", settlement=PROFILE)
    _dashboard_login(client)
    client.set_cookie("cp_lang", "sw")
    page = client.get("/dashboard/developers").get_data(as_text=True)
    assert "Thibitisha barua pepe yako kwanza" in page
    key = {
        "csrf_token": _csrf(page),
        "name": "shop",
        "password": PASSWORD,
        "idempotency_key": secrets.token_urlsafe(18),
    }
    refused = client.post("/dashboard/developers/api-keys", data=key)
    assert refused.status_code == 403 and "Thibitisha barua pepe yako kwanza" in refused.get_data(as_text=True)
    hook = {"csrf_token": _csrf(page), "url": "https://duka.example/h", "password": PASSWORD}
    assert client.post("/dashboard/developers/webhooks", data=hook).status_code == 403
    assert services.api_keys.for_merchant(merchant.id, before=None, limit=10) == []
    reasons = [dict(r.details).get("reason") for r in services.audit.records() if r.action == "access.refused"]
    assert reasons.count("email_unverified") == 2
    services.clock.advance(seconds=61)
    sent = client.post("/dashboard/developers/verify-email", data={"csrf_token": _csrf(page)})
    assert sent.status_code == 202 and "Kiungo kipya" in sent.get_data(as_text=True)
    headers = bearer(auth.login(EMAIL)["access_token"])
    auth.prove_email(EMAIL, headers)
    made = client.post("/dashboard/developers/api-keys", data=key)
    assert made.status_code == 201, made.get_data(as_text=True)[:300]
