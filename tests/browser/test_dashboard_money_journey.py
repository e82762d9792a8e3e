"""The dashboard's money pages in Chromium on the real stack: the refund button of a paid invoice (password, tick
box) and the month's statement downloaded as a PDF, on a phone in English and a desktop in Swahili; axe on every
page of the journey (the invoice, analytics, statements, team, KYB).

The browser stack has an Ethereum hot wallet (``CRYPTOPAY_ETHEREUM_HOT_WALLET``), so the refund is requested and
listed on the invoice's page; refusals and the double-press replay are followed by the Flask tests
(``tests/integration/web/test_dashboard_refund_cancel.py``)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest

from tests.browser.support import DESKTOP, EMAIL, PASSWORD, PHONE, axe_violations
from tests.browser.tour import _paid_invoice

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.browser]

CUSTOMER = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"


@pytest.mark.parametrize(
    ("viewport", "locale", "words"),
    [
        (PHONE, "en-KE", ("Log in", "Refund the customer", "Monthly statement")),
        (DESKTOP, "sw-KE", ("Ingia", "Mrejeshee mteja", "Taarifa ya mwezi")),
    ],
)
def test_refund_a_paid_invoice_and_download_the_statement(browser, merchant, viewport, locale, words):
    login, summary, statement = words
    invoice = _paid_invoice(merchant)
    context = browser.new_context(viewport=viewport, locale=locale, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{merchant.api}/dashboard/invoices/{invoice['id']}")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=login).click()
    page.wait_for_url(f"**/dashboard/invoices/{invoice['id']}")
    assert axe_violations(page) == []
    page.get_by_text(summary).click()
    page.locator("#refund-address").fill(CUSTOMER)
    page.locator("#refund-amount").fill("0.5")
    page.locator("#refund-currency").select_option("USDT")
    page.locator("#refund-password").fill(PASSWORD)
    page.locator("#refund-confirm").check()
    with page.expect_navigation():
        page.locator("form[action$='/refunds'] button[type=submit]").click()
    assert page.locator("p.notice[role=status]").is_visible()  # requested: the stack's hot wallet sends it
    assert page.locator("table span.secret", has_text=CUSTOMER).count() == 1  # one refund, to the customer
    assert axe_violations(page) == []
    for path in ("/dashboard/analytics", "/dashboard/team", "/dashboard/kyb", "/dashboard/reports"):
        page.goto(f"{merchant.api}{path}")
        assert axe_violations(page) == [], path
        if path == "/dashboard/analytics":  # the charts' day labels are drawn legibly on this screen
            assert min(chart_label_heights(page)) >= 11
    with page.expect_download() as download:
        page.locator("a[href^='/dashboard/reports/statement.pdf']").click()
    data = Path(download.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert statement in text and "Duka la Mama Njeri" in text and "USDT" in text
    context.close()


def chart_label_heights(page) -> list[float]:
    """The height in CSS pixels of every label of the charts shown (a hidden chart's labels measure 0 and are left
    out); a 13 px label measures about 15."""
    return page.evaluate(
        """() => [...document.querySelectorAll("figure.chart svg text")]
            .map((t) => t.getBoundingClientRect().height).filter((h) => h > 0)"""
    )


def test_a_double_click_on_create_invoice_makes_one_invoice(browser, merchant):
    """Two quick clicks on "Create invoice": the merchant lands on one invoice, and the API lists one invoice with
    that reference. (Chromium here posts once, the second click falling on the page being left; the form key's
    replay of a second post is proved by the page test ``test_a_double_press_of_create_invoice_makes_one_invoice``.)"""
    context = browser.new_context(viewport=DESKTOP, locale="en-KE")
    page = context.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/invoices/new" in r.url else None)
    page.goto(f"{merchant.api}/dashboard/invoices/new")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/invoices/new")
    page.locator("#amount").fill("1200")
    page.locator("#order_id").fill("DBL-1")
    page.get_by_role("button", name="Create invoice").dblclick()
    page.wait_for_url("**/dashboard/invoices/*_*")
    assert page.get_by_text("DBL-1").first.is_visible()
    assert posts, "the form was posted"
    listed = merchant._call("GET", "/v1/invoices?limit=100", merchant.token)["data"]
    assert [i["order_id"] for i in listed].count("DBL-1") == 1, (len(posts), listed)
    context.close()
