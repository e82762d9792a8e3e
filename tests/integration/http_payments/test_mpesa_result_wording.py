"""M-Pesa's own result text never reaches merchants or customers; they read our fixed words for its code.

On B2C, result 1 "The balance is insufficient for the transaction." is *our* float running low. The probe makes
M-Pesa refuse a merchant's payout with exactly that text and reads every outward representation of it (the REST
payout and its listing, the webhook payload, the settlement run that meets it, the portal's sale and bill status
pages in both languages); operators still read the raw text (the payout record, the CLI's view). A static probe
keeps the class closed: no HTTP shell code or template reads a payout's raw ``result_desc``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from cryptopay.core.mobile_money.wording import PAYOUT_WORDING, payout_wording, stk_wording
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.settlement import SettlementMethod
from cryptopay.core.wallets.billers import biller_catalogue
from cryptopay.core.wallets.bills import Bill
from cryptopay.core.wallets.sells import Sale
from cryptopay_cli.views import payout_view
from flask import render_template

from tests.integration.http_payments.payments_support import idem, refused_payout

RAW = "The balance is insufficient for the transaction."
ROOT = Path(__file__).resolve().parents[3]


def test_a_refused_payout_says_our_words_everywhere_a_merchant_looks_and_m_pesa_s_to_operators(
    client, auth, stack, shop
):
    """REST view and listing, the payout.failed webhook and a later settlement run carry the fixed wording of
    result 1; none carries M-Pesa's text. The payout record and the operator's CLI view keep the raw text."""
    admin = auth.user("admin")
    payout_id = refused_payout(client, stack, shop, admin)
    view = client.get(f"/v1/payouts/{payout_id}", headers=shop.headers)
    assert view.json["state"] == "failed" and view.json["result_code"] == "1"
    assert view.json["result_desc"] == PAYOUT_WORDING["1"] == "M-Pesa could not complete the payment at this time."
    outward = [
        view.get_data(as_text=True),
        client.get("/v1/payouts?state=failed", headers=admin).get_data(as_text=True),
        client.get("/v1/payouts", headers=shop.headers).get_data(as_text=True),
        json.dumps([m.payload for m in stack.outbox("payout.failed")]),
        client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin)).get_data(as_text=True),
    ]
    assert stack.outbox("payout.failed") and all(PAYOUT_WORDING["1"] in text for text in outward[:4])
    assert [text for text in outward if "insufficient" in text.lower() or "balance" in text.lower()] == []
    stored = stack.payouts.get_payout(payout_id)
    assert stored.result_desc == RAW and payout_view(stored)["result_desc"] == RAW  # operators read M-Pesa's text


def _failed(code: str, desc: str) -> Payout:
    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    payout = Payout(
        id="po_1",
        settlement_id="sale_1",
        merchant_id="usr_1",
        originator_id="po_1",
        method=SettlementMethod.MPESA_B2C,
        destination="254712000001",
        amount=Money.of(1288, KES),
        charge=Money.of(15, KES),
        hold_id="hold_1",
        created_at=at,
    )
    payout.failed(at, code=code, desc=desc)
    assert payout.state is PayoutState.FAILED
    return payout


def test_the_portal_s_sale_and_bill_status_show_our_words_in_both_languages(app):
    """A failed sale's and a failed bill's status fragments, in English and in Swahili, give the reason in our
    words for result 1 and never M-Pesa's text."""
    sale = Sale("sale_1", Money.of(10, USDT), Money.of(1293, KES), _failed("1", RAW))
    kplc = biller_catalogue().biller("KPLC_PREPAID")
    bill = Bill(
        id="bill_1", biller=kplc, account="01234567890", paid_with=Money.of(1000, KES), payout=_failed("1", RAW)
    )
    for language, reason in (("en", PAYOUT_WORDING["1"]), ("sw", "M-Pesa haikuweza kukamilisha malipo kwa sasa.")):
        with app.test_request_context(headers={"Cookie": f"lang={language}", "Accept-Language": language}):
            pages = [
                render_template("portal/sale_status.html", sale=sale, open=False),
                render_template("portal/bill_status.html", bill=bill, open=False),
            ]
        for html in pages:
            assert reason in html, html
            assert RAW not in html and "insufficient" not in html.lower()


def test_every_result_code_has_fixed_words_and_an_unknown_one_the_generic_words():
    """The codes met most (1, 17, 26, 1032, 1037, 2001, ...) have their own words, an unknown code the fallback;
    nothing M-Pesa says is ever returned, and an STK failure (the customer's own prompt) falls back the same way."""
    for code in ("1", "17", "26", "1019", "1032", "1037", "2001", "2040"):
        assert payout_wording(code) == PAYOUT_WORDING[code]
    assert "balance" not in payout_wording("1").lower() and "initiator" not in payout_wording("2001").lower()
    assert payout_wording("R000002") == payout_wording("9999") == "M-Pesa did not complete the payment."
    assert stk_wording("500.003.02") == "M-Pesa did not complete the payment"


def test_no_http_shell_code_or_template_reads_a_payout_s_raw_result_text():
    """The class closed: the REST views, webhooks, pages and templates take a result through ``payout_wording``
    (``payout_result`` in templates); reading ``.result_desc`` there is how M-Pesa's text would leak again."""
    shell = ROOT / "apps/http/src/cryptopay_http"
    readers = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted([*shell.rglob("*.py"), *shell.rglob("*.html")])
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.result_desc\b|\bResultDesc\b(?!\s*:)", line) and "daraja_hooks.py" not in str(path)
    ]
    assert readers == []
    outcomes = (ROOT / "packages/cryptopay-core/src/cryptopay/core/payouts/_outcomes.py").read_text()
    assert "payout.result_desc" not in outcomes  # the webhook payload
