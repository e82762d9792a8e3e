"""The password-reset page the emailed link opens: a form (CSRF, no JavaScript needed) that completes the reset
through the same use case as the API, in English and Swahili."""

from __future__ import annotations

import re

from tests.integration.http.http_support import PASSWORD
from tests.integration.web.test_dashboard_pages import _csrf

NEW = "a brand new passphrase"


def _emailed_link(client, services, email: str) -> str:
    assert client.post("/v1/auth/password-reset", json={"email": email}).status_code == 202
    mail = services.notifier.sent_to(email)[-1]  # the reset link, after the welcome email
    found = re.search(r"(\S+/reset-password#token=(\S+))", mail.body)
    assert found, mail.body
    return found.group(2)


def test_the_emailed_link_opens_a_page_that_resets_the_password_once(client, auth, services):
    """GET /reset-password is a form; a post without its CSRF token is refused, different passwords are a 422
    that changes nothing, the right post changes the password (the old one stops working) and the link is spent."""
    auth.register("amina@duka.co.ke", "merchant")
    token = _emailed_link(client, services, "amina@duka.co.ke")
    form = client.get("/reset-password")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and form.mimetype == "text/html" and 'name="token"' in html
    assert "data-fragment-token" in html and form.headers["Cache-Control"] == "no-store"
    body = {"token": token, "password": NEW, "password_again": NEW}
    assert client.post("/reset-password", data=body).status_code == 403  # no CSRF token
    differ = client.post("/reset-password", data={**body, "password_again": NEW + "!", "csrf_token": _csrf(html)})
    assert differ.status_code == 422 and "differ" in differ.get_data(as_text=True)
    assert client.post("/v1/auth/login", json={"email": "amina@duka.co.ke", "password": PASSWORD}).status_code == 200
    done = client.post("/reset-password", data={**body, "csrf_token": _csrf(html)})
    assert done.status_code == 200 and 'href="/dashboard/login"' in done.get_data(as_text=True)
    assert client.post("/v1/auth/login", json={"email": "amina@duka.co.ke", "password": PASSWORD}).status_code == 401
    assert client.post("/v1/auth/login", json={"email": "amina@duka.co.ke", "password": NEW}).status_code == 200
    again = client.post("/reset-password", data={**body, "csrf_token": _csrf(html)})
    assert again.status_code == 401 and "ask for a new one" in again.get_data(as_text=True)


def test_the_reset_page_speaks_swahili_and_a_bad_code_is_an_html_error(client):
    """With the language cookie set to Swahili the page is in Swahili; a forged code is a 401 page, not JSON."""
    client.get("/lang/sw?next=/reset-password")
    page = client.get("/reset-password").get_data(as_text=True)
    assert "Weka upya nenosiri lako" in page and 'lang="sw"' in page
    forged = {"token": "not.a.token", "password": NEW, "password_again": NEW, "csrf_token": _csrf(page)}
    answer = client.post("/reset-password", data=forged)
    assert answer.status_code == 401 and answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)  # the refusal in Swahili, the core's English words below it
    assert "Nenosiri au msimbo si sahihi." in html and '<small lang="en">' in html
