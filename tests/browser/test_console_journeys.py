"""The admin console in Chromium on the real stack: two officers approve a KYC application with four-eyes (the first
is refused the second approval) and read a document; a sanctions alert becomes a case. On a phone in English and on
a desktop in Swahili, axe-core on every page."""

from __future__ import annotations

import secrets

import pytest

from tests.browser.support import DESKTOP, PHONE, ROOT, axe_violations, cli, kyc_applicant, paid_to_no_wallet

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.browser]

WORDS = {
    "en-KE": {
        "claim": "Claim",
        "approve": "Approve",
        "approved": "approved",
        "waiting": "waiting for an officer",
        "second": "a second officer must give the next one",
        "open_case": "Open a case with the picked alerts",
        "add_note": "Add note",
    },
    "sw-KE": {
        "claim": "Chukua",
        "approve": "Idhinisha",
        "approved": "imeidhinishwa",
        "waiting": "inasubiri afisa",
        "second": "afisa wa pili lazima atoe inayofuata",
        "open_case": "Fungua kesi kwa tahadhari zilizochaguliwa",
        "add_note": "Ongeza dokezo",
    },
}
CASES = [(PHONE, "en-KE"), (DESKTOP, "sw-KE")]


def _officer_page(browser, officer, live, viewport, locale):
    context = browser.new_context(viewport=viewport, locale=locale, is_mobile=viewport is PHONE)
    page = context.new_page()
    officer.login(page, live.api, "/console/kyc")
    return context, page


def _checked(page) -> None:
    assert axe_violations(page) == [], page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], page.url


def _read_documents(page, live, app_id: str) -> None:
    """Open each document the review page links to and let its picture load (each read is audited, as approving
    needs), then come back to the review page."""
    links = page.locator(f'a[href*="/console/kyc/{app_id}/documents/"]')
    for href in dict.fromkeys(links.nth(i).get_attribute("href") for i in range(links.count())):
        page.goto(f"{live.api}{href}")
        page.locator("figure.document img").evaluate("img => img.decode()")
    page.goto(f"{live.api}/console/kyc/{app_id}")


@pytest.mark.parametrize(("viewport", "locale"), CASES)
def test_two_officers_approve_a_kyc_with_four_eyes(browser, live, officers, viewport, locale):
    """Ann claims and approves (1 of 2), reads the selfie, and is refused the second approval; Bob gives it."""
    words = WORDS[locale]
    app_id = kyc_applicant(live, f"kyc-{secrets.token_hex(3)}@example.co.ke")
    ann, bob = officers
    context, page = _officer_page(browser, ann, live, viewport, locale)
    _checked(page)
    page.get_by_role("link", name=app_id).click()
    page.wait_for_url(f"**/console/kyc/{app_id}")
    assert page.get_by_text(words["waiting"]).first.is_visible()
    _checked(page)
    with page.expect_navigation():  # the claim's answer loaded before the next click or page (CI D: a race)
        page.get_by_role("button", name=words["claim"]).click()
    page.get_by_role("button", name=words["approve"], exact=True).click()
    assert page.get_by_role("alert").is_visible()  # four eyes need eyes: no document opened yet (I9)
    _read_documents(page, live, app_id)
    page.get_by_role("button", name=words["approve"], exact=True).click()
    page.wait_for_url(f"**/console/kyc/{app_id}")
    assert page.get_by_text(words["second"]).is_visible()
    _checked(page)
    page.get_by_role("link", name="selfie").click()
    page.wait_for_url("**/documents/*")
    image = page.locator("figure.document img")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 640
    _checked(page)
    page.go_back()
    page.get_by_role("button", name=words["claim"]).click()
    assert page.get_by_role("alert").is_visible()  # four-eyes: Ann cannot take it again
    _checked(page)
    context.close()
    context, page = _officer_page(browser, bob, live, viewport, locale)
    page.goto(f"{live.api}/console/kyc/{app_id}")
    with page.expect_navigation():  # else reading the documents could start before the claim's answer came
        page.get_by_role("button", name=words["claim"]).click()
    _read_documents(page, live, app_id)
    page.get_by_role("button", name=words["approve"], exact=True).click()
    page.wait_for_url(f"**/console/kyc/{app_id}")
    assert page.locator(".facts dd").first.inner_text().strip() == words["approved"]
    _checked(page)
    context.close()


@pytest.fixture(scope="module")
def sanctions_list(live) -> None:
    cli(live, "compliance", "lists", "import", str(ROOT / "tests/fixtures/sanctions/sdn.xml"))


@pytest.mark.parametrize(("viewport", "locale"), CASES)
def test_a_sanctions_alert_becomes_a_case(browser, live, officers, sanctions_list, viewport, locale):
    """A listed name applies; the rescreen raises an alert; Ann ticks it, opens a case and notes it."""
    words = WORDS[locale]
    kyc_applicant(live, f"aml-{secrets.token_hex(3)}@example.co.ke", legal_name="Jose Ramon Nunez Garcia")
    cli(live, "compliance", "rescreen")
    ann, _ = officers
    context, page = _officer_page(browser, ann, live, viewport, locale)
    page.goto(f"{live.api}/console/alerts?status=open")
    _checked(page)
    boxes = page.locator("input[name=alert]")
    assert boxes.count() >= 1
    boxes.last.check()
    page.get_by_role("button", name=words["open_case"]).click()
    page.wait_for_url("**/console/cases/cas_*")
    assert page.get_by_text("sanctions-name-match").first.is_visible()
    _checked(page)
    page.locator("#note-text").fill("The listed name matches the ID; escalating.")
    page.get_by_role("button", name=words["add_note"]).click()
    page.wait_for_url("**/console/cases/cas_*")
    assert page.get_by_text("The listed name matches the ID; escalating.").is_visible()
    _checked(page)
    page.goto(f"{live.api}/console/cases")
    _checked(page)
    page.goto(f"{live.api}/console/held-payments")  # the held payments' four-eyes page (axe on it too)
    _checked(page)
    page.goto(f"{live.api}/console/held-transfers")  # the held sends' four-eyes page likewise
    _checked(page)
    page.goto(f"{live.api}/console/held-remittances")  # and the held remittances'
    assert page.locator('nav a[href="/console/held-remittances"][aria-current="page"]').count() == 1
    _checked(page)
    context.close()


RECONCILED = {"en-KE": ("Reconcile now", "by the console"), "sw-KE": ("Linganisha sasa", "na dashibodi ya wafanyakazi")}


@pytest.mark.parametrize(("viewport", "locale"), CASES)
def test_an_admin_reconciles_now_and_sees_each_checks_latest_run(browser, live, admin, viewport, locale):
    """The admin presses "Reconcile now": the run is kept and each check's row names it (by the console); the
    books' trial balance is among them; axe finds nothing and the page does not scroll sideways."""
    button, by_console = RECONCILED[locale]
    context = browser.new_context(viewport=viewport, locale=locale, is_mobile=viewport is PHONE)
    page = context.new_page()
    admin.login(page, live.api, "/console/reconciliation")
    for _ in range(3):  # the live worker reconciles every 30 s too: a scheduled run ending after ours is the latest
        with page.expect_navigation():
            page.get_by_role("button", name=button).click()
        row = page.locator("tr", has_text="trial-balance")
        assert row.count() == 1
        if by_console in row.inner_text():
            break
    assert by_console in row.inner_text()
    _checked(page)
    page.goto(f"{live.api}/console/paybill")  # the paybill payments staff act on (axe on it too)
    assert page.locator('nav a[href="/console/paybill"][aria-current="page"]').count() == 1
    _checked(page)
    context.close()


@pytest.mark.parametrize(("viewport", "locale"), CASES)
def test_staff_see_a_paybill_payment_waiting_in_suspense_with_its_actions(browser, live, admin, viewport, locale):
    """A payment naming no wallet waits in suspense: its page shows the four-eyes credit and return forms, each
    with a fresh-code field; axe finds nothing and the page does not scroll sideways."""
    payment_id = paid_to_no_wallet(live, f"nobody-{secrets.token_hex(3)}")
    context = browser.new_context(viewport=viewport, locale=locale, is_mobile=viewport is PHONE)
    page = context.new_page()
    admin.login(page, live.api, "/console/paybill?state=suspended")
    page.locator(f'a[href="/console/paybill/{payment_id}"]').click()
    page.wait_for_url(f"**/console/paybill/{payment_id}")
    for form in ("propose", "propose-return"):
        assert page.locator(f'form[action$="/{form}"] input[name="code"]').count() == 1
    _checked(page)
    context.close()
