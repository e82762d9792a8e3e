"""A newcomer on a cheap Android phone (360x640) reading Swahili: sign up by the SMS code, every portal page without
sideways scrolling, a refusal in Swahili read on the field it is about, and an error page with a way back."""

from __future__ import annotations

import pytest

from tests.browser.support import PASSWORD, axe_violations, sms_code

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.browser]

SMALL_PHONE = {"width": 360, "height": 640}
PAGES = ("/app/", "/app/send", "/app/buy", "/app/sell", "/app/bills", "/app/deposit", "/app/withdraw")
PAGES += ("/app/history", "/app/verify", "/app/settings")
# Elements wider than the screen, outside a box that scrolls on purpose (the menu, a table's wrapper).
SPILLS = """() => [...document.querySelectorAll('main *')].filter(el => {
  const box = el.getBoundingClientRect();
  if (!box.width || box.right <= document.documentElement.clientWidth + 1) return false;
  for (let up = el.parentElement; up; up = up.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return false;
  }
  return true;
}).map(el => el.tagName + ' ' + (el.textContent || '').trim().slice(0, 40))"""


def test_a_swahili_newcomer_on_a_small_phone(browser, live):
    """Swahili from the browser's Accept-Language at 360x640: the sign-up and every portal page fit the screen; a
    send of "abc" is refused in Swahili with the core's English words below, on the amount field, which keeps "abc";
    a statement for a month that is no month is a Swahili error page with a link back to the wallet."""
    context = browser.new_context(
        viewport=SMALL_PHONE, is_mobile=True, has_touch=True, extra_http_headers={"Accept-Language": "sw"}
    )
    page = context.new_page()
    page.goto(f"{live.api}/app/signup")
    page.locator("#phone").fill("0712 345 151")
    page.get_by_role("button", name="Nitumie nambari").click()
    page.wait_for_url("**/app/signup/*")
    page.locator("#code").fill(sms_code(live, "254712345151"))
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Fungua pochi yangu").click()
    page.wait_for_url("**/app/?welcome=1")
    for path in PAGES:
        page.goto(f"{live.api}{path}")
        assert page.locator("html").get_attribute("lang") == "sw", path
        assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"], path
        assert page.evaluate(SPILLS) == [], path
    page.goto(f"{live.api}/app/send")
    page.locator("#to").fill("0712 345 152")
    page.locator("#amount").fill("abc")
    page.get_by_role("button", name="Kagua utumaji").click()
    alert = page.get_by_role("alert")
    assert alert.inner_text().startswith("Angalia kiasi: andika nambari kama 1500.")
    assert alert.locator("small[lang=en]").inner_text().startswith("enter an amount")
    amount = page.locator("#amount")
    assert amount.get_attribute("aria-invalid") == "true" and amount.input_value() == "abc"
    assert amount.get_attribute("aria-describedby") == alert.get_attribute("id")
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"]
    assert axe_violations(page) == []
    page.goto(f"{live.api}/app/statement?month=13-2026")
    back = page.get_by_role("link", name="Rudi mwanzo")
    assert page.get_by_text("Angalia ulichoandika kisha ujaribu tena.").is_visible() and back.is_visible()
    back.click()
    page.wait_for_url("**/app/")
    context.close()
