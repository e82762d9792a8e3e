"""The portal's withdraw page in Chromium on the real stack, on a phone (360 px), in English and Swahili, each step
checked by axe-core: the address checked on the sandbox's Ethereum, our fee and the total shown, the password that
confirms it, and a new wallet (KYC tier 0) refused by the limit's name with nothing moved."""

from __future__ import annotations

from decimal import Decimal

from tests.browser.support import PASSWORD, PHONE, axe_violations, sms_code

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


def test_withdraw_on_a_phone_checks_the_address_shows_the_fees_and_refuses_by_the_limit(browser, live):
    """Sign up, open Withdraw from the menu, check an address: fee and total shown; the password confirms; tier 0
    is refused by ``withdraw.single``; the page fits 360 px; axe finds nothing serious on any step."""
    context = browser.new_context(viewport=PHONE, locale="en-KE", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live.api}/app/signup")
    page.locator("#phone").fill("0712 345 221")
    page.get_by_role("button", name="Send me a code").click()
    page.wait_for_url("**/app/signup/*")
    page.locator("#code").fill(sms_code(live, "254712345221"))
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Open my wallet").click()
    page.wait_for_url("**/app/?welcome=1")
    page.get_by_role("link", name="Withdraw", exact=True).click()
    page.wait_for_url("**/app/withdraw")
    assert page.get_by_role("heading", name="Withdraw crypto").is_visible()
    assert axe_violations(page) == []
    page.locator("#asset").select_option("USDT")
    page.locator("#network").select_option("ethereum")
    page.locator("#address").fill(ADDRESS.lower())
    page.locator("#amount").fill("25")
    page.get_by_role("button", name="Check the address and fees").click()
    page.wait_for_url("**/app/withdraw/check")
    assert page.get_by_text("Check before you confirm").is_visible()
    assert page.get_by_text(ADDRESS).is_visible()  # the address in its checksummed form
    fee, total = (
        Decimal(page.locator(f"dt:text-is('{term}') + dd").inner_text().split()[1].replace(",", ""))
        for term in ("Our fee", "Taken from your wallet")
    )
    assert fee >= 5 and total == 25 + fee  # 25 arrive; Ethereum's 5 USDT (or its fee estimate x 1.25) on top
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm the withdrawal").click()
    alert = page.get_by_role("alert")
    assert "Limit reached: withdraw.single" in alert.inner_text()
    assert axe_violations(page) == []
    context.close()


def test_the_withdraw_page_in_swahili(browser, live):
    """The same page after switching to Swahili: heading, labels and button, and axe is satisfied."""
    context = browser.new_context(viewport=PHONE, locale="en-KE", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live.api}/app/signup")
    page.locator("#phone").fill("0712 345 222")
    page.get_by_role("button", name="Send me a code").click()
    page.wait_for_url("**/app/signup/*")
    page.locator("#code").fill(sms_code(live, "254712345222"))
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Open my wallet").click()
    page.wait_for_url("**/app/?welcome=1")
    page.goto(f"{live.api}/lang/sw?next=/app/withdraw")
    page.wait_for_url("**/app/withdraw")
    assert page.get_by_role("heading", name="Toa sarafu za kidijitali").is_visible()
    assert page.get_by_role("button", name="Hakiki anwani na ada").is_visible()
    assert page.get_by_role("link", name="Toa", exact=True).is_visible()
    assert axe_violations(page) == []
    context.close()
