"""R9-7 in Chromium on a phone: a new admin (the operator's CLI, no second factor yet) logs in, the console's 403
links to the settings page, where two-step sign-in is turned on with an authenticator code. axe-core on the page."""

from __future__ import annotations

import re

import pyotp

from tests.browser.support import PASSWORD, PHONE, axe_violations, cli


def test_a_new_admin_enrols_two_step_sign_in_from_the_consoles_refusal(browser, live):
    email = "fresh-admin@cryptopay.example"
    cli(live, "users", "create-admin", "--email", email, "--password-stdin", stdin=PASSWORD + "\n")
    context = browser.new_context(viewport=PHONE, locale="en-KE", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live.api}/dashboard/login?next=/console/audit")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/console/audit")
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.wait_for_url("**/dashboard/settings#two-factor")
    assert axe_violations(page) == []
    page.locator("#on-password").fill(PASSWORD)
    page.get_by_role("button", name="Turn on").click()
    secret = page.locator("code.secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]+", secret)
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    assert page.locator("ul.codes li").count() >= 8
    context.close()
