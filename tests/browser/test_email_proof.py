"""The email-proof links in Chromium (review G11): each page takes the token from the link's fragment (and drops it
from the address bar); "this wasn't me" releases the address without a login; the proof needs the dashboard login
and the password. Both pass axe."""

from __future__ import annotations

import httpx
import pytest
from cryptopay.adapters.notify import FileNotifier

from tests.browser.support import PASSWORD, axe_violations
from tests.support.mailbox import link_token

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.browser]


def _register(live, email: str) -> str:
    body = {"email": email, "password": PASSWORD, "role": "merchant"}
    assert httpx.post(f"{live.api}/v1/auth/register", json=body, timeout=30).status_code == 202
    return email


def test_the_release_link_disables_the_account_without_a_login(browser, live):
    """Open the "this wasn't me" link, press the one button: done; the account can no longer log in."""
    email = _register(live, "squatted@example.co.ke")
    token = link_token(FileNotifier(live.workdir / "notifications.jsonl").read(), email, release=True)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.api}/verify-email/release#token={token}")
    assert page.locator("#token").is_hidden() and "#token=" not in page.url
    assert axe_violations(page) == []
    page.get_by_role("button", name="Release my address").click()
    assert page.get_by_text("your address is released").is_visible()
    assert axe_violations(page) == []
    context.close()
    login = httpx.post(f"{live.api}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 401


def test_the_proof_link_confirms_the_email_of_the_logged_in_account(browser, live):
    """Log in to the dashboard, open the proof link, type the password: the email is proven."""
    email = _register(live, "proven@example.co.ke")
    token = link_token(FileNotifier(live.workdir / "notifications.jsonl").read(), email)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.api}/dashboard/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/")  # a 403 page (no merchant yet), with the page session set
    page.goto(f"{live.api}/verify-email#token={token}")
    assert page.locator("#token").is_hidden() and "#token=" not in page.url
    assert axe_violations(page) == []
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm my email").click()
    assert page.get_by_text("Your email is confirmed").is_visible()
    context.close()
    session = httpx.post(f"{live.api}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    me = httpx.get(f"{live.api}/v1/me", headers={"Authorization": f"Bearer {session.json()['access_token']}"})
    assert me.json()["user"]["email_verified"] is True
