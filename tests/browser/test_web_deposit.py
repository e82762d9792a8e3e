"""The portal's deposit page in Chromium on a phone: the address and its QR code, the copy button, Swahili, axe;
a real ERC-20 transfer on anvil to the address shows as confirming and then credited in the balance."""

from __future__ import annotations

import time

from tests.browser.support import PASSWORD, PHONE, axe_violations, sms_code


def _sign_up(page, live, phone: str, wire: str) -> None:
    page.goto(f"{live.api}/app/signup")
    page.locator("#phone").fill(phone)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/app/signup/*")
    page.locator("#code").fill(sms_code(live, wire))
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/app/?welcome=1")


def test_deposit_usdt_on_a_phone_copy_the_address_and_see_it_credited(browser, live, merchant):
    """Deposit from the menu; the Ethereum address (the sandbox runs anvil) with its QR code; copy puts the address
    on the clipboard; the sender's USDT shows as confirming, then credited, and the balance has it. axe each time."""
    context = browser.new_context(viewport=PHONE, locale="en-KE", is_mobile=True, has_touch=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.api)
    page = context.new_page()
    _sign_up(page, live, "0712 345 211", "254712345211")
    page.get_by_role("link", name="Deposit", exact=True).click()
    page.wait_for_url("**/app/deposit")
    assert page.locator("h1").inner_text() == "Deposit crypto"
    assert page.locator("#address").inner_text().startswith("T")  # USDT on Tron comes first
    page.get_by_role("link", name="USDT · Ethereum").click()
    page.wait_for_url("**/app/deposit?network=ethereum")
    address = page.locator("#address").inner_text().strip()
    assert address.startswith("0x") and len(address) == 42
    assert page.get_by_role("img", name="QR code of your USDT address on Ethereum").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    page.get_by_role("button", name="Copy address").click()
    page.get_by_role("button", name="Copied").wait_for(timeout=5_000)
    assert page.evaluate("navigator.clipboard.readText()") == address
    merchant.pay({"amount": "25", "address": address})  # a funded anvil account sends 25 test USDT
    states, deadline = [], time.monotonic() + 90
    while time.monotonic() < deadline and "Credited" not in states:
        page.reload()
        cell = page.locator("table tbody tr td").nth(2)
        if cell.count():
            states.append(cell.inner_text())
        time.sleep(1)
    assert states and states[-1] == "Credited", states
    assert any(s.startswith("Confirming") for s in states), states  # seen before credited
    assert axe_violations(page) == []
    page.get_by_role("link", name="Home", exact=True).click()
    assert page.get_by_role("region", name="Balances").get_by_text("USDT 25").is_visible()
    # the activity's amount on the 360 px screen itself, not behind a sideways scroll: each line is a block there
    amount = page.get_by_role("region", name="Movements").locator("tbody tr").first.locator("td").nth(2)
    box = amount.bounding_box()
    assert (
        amount.inner_text().endswith("USDT 25.00")
        and box
        and box["x"] >= 0
        and box["x"] + box["width"] <= PHONE["width"]
    )
    assert axe_violations(page) == []
    context.close()


def test_the_deposit_page_in_swahili_passes_axe(browser, live):
    """Swahili from the browser's language on a phone: the title, the warning, the copy button; no axe violation."""
    context = browser.new_context(viewport=PHONE, locale="sw-KE", is_mobile=True, has_touch=True)
    page = context.new_page()
    _sign_up(page, live, "0712 345 212", "254712345212")
    page.goto(f"{live.api}/app/deposit?network=ethereum")
    assert page.locator("h1").inner_text() == "Weka sarafu za kidijitali"
    assert page.get_by_text("Tuma USDT pekee kwenye mtandao wa Ethereum").is_visible()
    assert page.get_by_role("button", name="Nakili anwani").is_visible()
    assert axe_violations(page) == []
    context.close()
