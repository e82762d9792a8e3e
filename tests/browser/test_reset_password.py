"""The emailed password-reset link in Chromium: the page takes the token from the link's fragment (and drops it
from the address bar), sets the new password, and passes axe."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from cryptopay_http.pages.i18n import LANG_COOKIE

from tests.browser.support import PASSWORD, axe_violations
from tests.browser.tour import RESET_PASSWORD, reset_password_shots

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.browser]

NEW = "a brand new passphrase"


def _reset_link(live, email: str) -> str:
    """The link of the newest reset email to ``email`` (the stack's notifier writes a JSON-lines file)."""
    sent = [
        json.loads(line)
        for path in live.workdir.parent.rglob("notifications.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    bodies = [str(m.get("body", "")) for m in sent if m.get("to") == email or email in json.dumps(m)]
    found = re.search(r"(\S+/reset-password#token=\S+)", bodies[-1] if bodies else "")
    assert found, sent[-3:]
    return found.group(1)


def test_the_emailed_link_resets_the_password_in_a_browser(browser, live):
    """Open the link, type the new password twice, submit: done page, the new password logs in, axe is clean."""
    email = "wanjiru.reset@example.co.ke"
    body = {"email": email, "password": PASSWORD, "role": "merchant"}
    registered = httpx.post(f"{live.api}/v1/auth/register", json=body, timeout=30)
    assert registered.status_code == 202  # as for an address already registered (review G3)
    assert httpx.post(f"{live.api}/v1/auth/password-reset", json={"email": email}, timeout=30).status_code == 202
    fragment = _reset_link(live, email).split("/reset-password", 1)[1]  # the stack's API, whatever the link names
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.api}/reset-password{fragment}")
    assert page.locator("#token").is_hidden() and "#token=" not in page.url
    assert axe_violations(page) == []
    page.locator("#password").fill(NEW)
    page.locator("#password_again").fill(NEW)
    page.get_by_role("button", name="Set the new password").click()
    assert page.get_by_role("link", name="Log in with the new password").is_visible()
    assert axe_violations(page) == []
    context.close()
    login = httpx.post(f"{live.api}/v1/auth/login", json={"email": email, "password": NEW}, timeout=30)
    assert login.status_code == 200, login.text


def test_the_tour_shoots_the_reset_password_page_in_english_and_swahili(browser, live, tmp_path):
    """``make screenshots`` includes the emailed link's page: a phone and a desktop PNG in each language, the
    Swahili ones in Swahili (the page says so), none the same picture as its English one."""
    written = reset_password_shots(browser, live.api, tmp_path)
    names = sorted(p.name for p in written)
    assert names == [
        "reset-password-desktop.png",
        "reset-password-phone.png",
        "reset-password-sw-desktop.png",
        "reset-password-sw-phone.png",
    ]
    pictures = {p.name: p.read_bytes() for p in written}
    assert all(data.startswith(b"\x89PNG") for data in pictures.values())
    for device in ("phone", "desktop"):
        assert pictures[f"reset-password-{device}.png"] != pictures[f"reset-password-sw-{device}.png"]
    context = browser.new_context()
    context.add_cookies([{"name": LANG_COOKIE, "value": "sw", "url": f"{live.api}/"}])
    page = context.new_page()
    page.goto(f"{live.api}{RESET_PASSWORD}")
    assert (
        page.locator("html").get_attribute("lang") == "sw" and page.locator("h1").inner_text() != "Reset your password"
    )
    context.close()
