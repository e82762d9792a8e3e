"""Paying bills by M-Pesa B2B from a wallet, through the payout machinery, over the fake M-Pesa and its billers."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import (
    InvalidInput,
    LimitExceeded,
    NotFound,
    QuoteExpired,
    QuoteRequired,
    QuoteUsed,
    Refused,
)
from cryptopay.core.flows import FLOAT, IN_FLIGHT
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.mobile_money import REJECTED_ACCOUNT
from cryptopay.core.wallets.billers import parse_biller_catalogue
from cryptopay.core.wallets.bills import KPLC_TOKEN_NOTE, Bills
from cryptopay.core.wallets.quotes import QuotePurpose

from tests.support.wallet_stack import wallet_stack

METER = "01234567890"


@pytest.fixture
def stack():
    return wallet_stack()


@pytest.fixture
def bills(stack):
    return Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)


def test_a_kplc_prepaid_bill_is_paid_to_888880_with_the_meter_and_shows_the_token(stack, bills):
    """KES 1,000 for a meter: B2B BusinessPayBill to 888880 with the meter as reference; the simulated biller's
    token is shown; the wallet paid exactly KES 1,000 and the books balance."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "1500", "KES")
    bill = bills.pay(amina.id, "kplc_prepaid", "0123 4567 890", Money.of(1000, KES))
    assert bill.payout.route == f"BusinessPayBill 888880 {METER}" and bill.state == "planned"
    assert stack.balance(amina, "KES") == Money.of(500, KES)
    assert len(stack.payouts.submit_payouts()) == 1
    stack.deliver_callbacks()
    done = bills.get(amina.id, bill.id)
    assert done.state == "completed" and done.payout.receipt
    assert done.token is not None and len(done.token) == 20 and done.token_note is None
    assert stack.mpesa.business_balance("888880") == Money.of(1000, KES)
    assert stack.ledger.balance(IN_FLIGHT).posted.is_zero()
    assert stack.ledger.balance(FLOAT).posted == Money.of(1500 - 1000, KES)  # funded 1,500, paid 1,000 out
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_postpaid_bill_carries_no_token_and_a_prepaid_one_without_a_token_says_kplc_sends_it(stack, bills):
    """Postpaid bills have no token; a prepaid bill whose result carried none says the token comes by SMS."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "3000", "KES")
    water = bills.pay(amina.id, "NAIROBI_WATER", "1234567", Money.of(800, KES))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    water = bills.get(amina.id, water.id)
    assert water.state == "completed" and water.token is None and water.token_note is None
    prepaid = bills.pay(amina.id, "KPLC_PREPAID", METER, Money.of(100, KES))
    assert prepaid.token is None and prepaid.token_note == KPLC_TOKEN_NOTE


def test_a_bill_the_biller_rejects_gives_the_shillings_back(stack, bills):
    """The simulated biller refuses the account: the payout fails, the hold is voided, the wallet has its KES."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "1000", "KES")
    bill = bills.pay(amina.id, "KPLC_PREPAID", REJECTED_ACCOUNT, Money.of(600, KES))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    failed = bills.get(amina.id, bill.id)
    assert failed.state == "failed" and "biller rejected" in (failed.payout.result_desc or "")
    assert stack.balance(amina, "KES") == Money.of(1000, KES)
    assert stack.ledger.balance(IN_FLIGHT).posted.is_zero()


def test_a_bill_paid_from_usdt_sells_just_enough_at_the_locked_bid(stack, bills):
    """KES 1,000 from USDT at a bid of 129.35: 7.730963 USDT sold (rounded up), the cents over stay as KES."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    quote = stack.buys.quote(amina.id, QuotePurpose.SELL)
    bill = bills.pay(amina.id, "DSTV", "7012345678", Money.of(1000, KES), pay_with="USDT", quote_id=quote.id)
    assert bill.paid_with.asset == USDT and bill.paid_with == quote.base_needed(Money.of(1000, KES), at=quote.as_of)
    assert stack.balance(amina, "USDT") == Money.of(10, USDT) - bill.paid_with
    assert Money.zero(KES) <= stack.balance(amina, "KES") < Money.of(1, KES)
    assert bills.get(amina.id, bill.id).paid_with == bill.paid_with
    with pytest.raises(QuoteUsed):  # once
        bills.pay(amina.id, "DSTV", "7012345678", Money.of(100, KES), pay_with="USDT", quote_id=quote.id)
    later = stack.buys.quote(amina.id, QuotePurpose.SELL)
    stack.clock.advance(seconds=120)
    with pytest.raises(QuoteExpired):
        bills.pay(amina.id, "DSTV", "7012345678", Money.of(100, KES), pay_with="USDT", quote_id=later.id)


def test_a_bill_from_usdt_without_a_locked_sale_quote_is_refused_and_moves_nothing(stack, bills):
    """No quote (or an empty id) is ``quote_required`` (422) naming how to lock one, never a fresh price; a quote
    locked to buy is the wrong side: nothing is sold, held or sent, and the sale quote still pays the bill after."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    for quote_id in (None, ""):
        with pytest.raises(QuoteRequired, match="POST /v1/wallet/quotes") as missing:
            bills.pay(amina.id, "DSTV", "7012345678", Money.of(100, KES), pay_with="USDT", quote_id=quote_id)
        assert (missing.value.code, missing.value.http_status) == ("quote_required", 422)
        assert missing.value.details["field"] == "quote_id"
    to_buy = stack.buys.quote(amina.id, QuotePurpose.BUY)
    with pytest.raises(InvalidInput, match="locked to buy"):
        bills.pay(amina.id, "DSTV", "7012345678", Money.of(100, KES), pay_with="USDT", quote_id=to_buy.id)
    assert stack.balance(amina, "USDT") == Money.of(10, USDT) and stack.balance(amina, "KES").is_zero()
    assert stack.mpesa.transactions() == [] and bills.for_user(amina.id, after=None, limit=10) == []
    to_sell = stack.buys.quote(amina.id, QuotePurpose.SELL)
    bill = bills.pay(amina.id, "DSTV", "7012345678", Money.of(100, KES), pay_with="USDT", quote_id=to_sell.id)
    assert bill.paid_with == to_sell.base_needed(Money.of(100, KES), at=stack.clock.now())


def test_bad_bills_are_refused_before_anything_moves(stack, bills):
    """An unknown biller, a malformed account, a fraction of a shilling, an amount outside the biller's bounds, more
    than the wallet holds, and tier 0 beyond its bill limit: each refused, the balance untouched."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "500", "KES")
    with pytest.raises(InvalidInput, match="unknown biller"):
        bills.pay(amina.id, "ZUKU", "123456", Money.of(100, KES))
    with pytest.raises(InvalidInput, match="IUC"):
        bills.pay(amina.id, "GOTV", "12345", Money.of(100, KES))
    with pytest.raises(InvalidInput, match="whole shillings"):
        bills.pay(amina.id, "GOTV", "1234567890", Money.of("100.50", KES))
    with pytest.raises(LimitExceeded) as below:
        bills.pay(amina.id, "GOTV", "1234567890", Money.of(5, KES))
    assert below.value.details["limit"] == "biller.minimum"
    with pytest.raises(Refused):
        bills.pay(amina.id, "GOTV", "1234567890", Money.of(600, KES))
    with pytest.raises(InvalidInput, match="KES or USDT"):
        bills.pay(amina.id, "GOTV", "1234567890", Money.of(100, KES), pay_with="BTC")
    assert stack.balance(amina, "KES") == Money.of(500, KES)
    assert bills.for_user(amina.id, after=None, limit=10) == []


def test_kyc_limits_are_checked_for_the_bill_product(stack, bills):
    """Tier 0 may not pay bills (its bill limit is zero): refused with the limit's name, nothing moves."""
    kamau = stack.sign_up("0712000002")
    stack.fund(kamau, "1000", "KES")
    with pytest.raises(LimitExceeded) as refused:
        bills.pay(kamau.id, "KPLC_POSTPAID", "123456", Money.of(500, KES))
    assert refused.value.details["limit"] == "bill.single"
    assert stack.balance(kamau, "KES") == Money.of(1000, KES)


def test_bills_list_newest_first_and_only_the_owners(stack, bills):
    """Each user sees their own bills, newest first, page by page; another's bill is not found."""
    amina, kamau = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "5000", "KES")
    paid = [bills.pay(amina.id, "KPLC_POSTPAID", f"12345{i}", Money.of(100 + i, KES)).id for i in range(3)]
    assert [b.id for b in bills.for_user(amina.id, after=None, limit=2)] == paid[::-1][:2]
    assert [b.id for b in bills.for_user(amina.id, after=paid[1], limit=5)] == [paid[0]]
    assert bills.for_user(kamau.id, after=None, limit=10) == []
    with pytest.raises(NotFound):
        bills.get(kamau.id, paid[0])


def test_pending_bill_payouts_are_listed_until_answered(stack, bills):
    """A bill sent and not yet answered is listed for operators; once answered it is not."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "1000", "KES")
    bill = bills.pay(amina.id, "GOTV", "1234567890", Money.of(300, KES))
    assert bills.awaiting_answer() == []
    stack.payouts.submit_payouts()
    assert [p.settlement_id for p in bills.awaiting_answer()] == [bill.id]
    stack.deliver_callbacks()
    assert bills.awaiting_answer() == []


def test_a_float_that_cannot_cover_the_bill_refuses_it(stack, bills):
    """The treasury's float guard says no: refused with its reason, nothing held."""
    from cryptopay.core.treasury.cover import Cover

    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "1000", "KES")
    bills.float_cover = lambda amount: Cover(False, "the float holds KES 100")
    with pytest.raises(Refused, match="cannot pay this bill"):
        bills.pay(amina.id, "GOTV", "1234567890", Money.of(300, KES))
    assert stack.balance(amina, "KES") == Money.of(1000, KES)


def test_a_malformed_catalogue_is_refused():
    """Duplicate paybills, unanchored patterns and inverted bounds are refused when the catalogue is read."""
    row = {
        "code": "X1",
        "name": "X",
        "paybill": "123456",
        "account_label": "account",
        "account_pattern": "^[0-9]{4}$",
        "minimum": "10",
        "maximum": "100",
    }
    good = {"version": 1, "effective_from": "2026-01-01", "billers": [row]}
    assert parse_biller_catalogue(good).biller("x1").paybill == "123456"
    for bad in ({**row, "code": "X2"}, {**row, "code": "X2", "paybill": "1", "account_pattern": "[0-9]"}):
        with pytest.raises(InvalidInput):
            parse_biller_catalogue({**good, "billers": [row, bad]})
    with pytest.raises(InvalidInput):
        parse_biller_catalogue({**good, "billers": [{**row, "minimum": "200"}]})
    with pytest.raises(InvalidInput):
        parse_biller_catalogue({"version": 1})


def test_a_bill_whose_result_is_lost_is_settled_by_a_status_query_and_never_sent_twice(stack, bills):
    """DStv's result never arrives: after the deadline Transaction Status is asked, its answer completes the bill;
    the payout was handed to M-Pesa once and the biller received the money once."""
    from cryptopay.core.testing.mobile_money import Scenario

    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "2000", "KES")
    stack.mpesa.set_scenario("444900", Scenario.LOST_CALLBACK)
    bill = bills.pay(amina.id, "DSTV", "7012345678", Money.of(1500, KES))
    stack.payouts.submit_payouts()
    assert stack.deliver_callbacks() == 0 and bills.get(amina.id, bill.id).state == "submitted"
    assert stack.payouts.submit_payouts() == []  # submitted: never sent again without a status answer
    stack.clock.advance(seconds=180)
    assert [p.settlement_id for p in stack.payouts.query_stale_payouts()] == [bill.id]
    stack.deliver_callbacks()
    done = bills.get(amina.id, bill.id)
    assert done.state == "completed" and done.payout.submissions == 1 and len(done.payout.queries) == 1
    assert stack.mpesa.business_balance("444900") == Money.of(1500, KES)
    assert stack.balance(amina, "KES") == Money.of(500, KES)


def test_the_history_says_what_a_payout_from_the_wallet_was_for(stack, bills):
    """Outside review H12: a bill's B2B and a sale's B2C showed in the history as kind ``other`` with an internal
    ``po_`` id; now as ``bill`` / ``sell`` naming the ``bil_`` / ``sel_`` id the API gives (``?kind=bill`` finds
    the bill), and every kind the history shows is one ``?kind=`` takes."""
    from cryptopay.core.wallets.history import KINDS

    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "1500", "KES")
    stack.fund(amina, "20", "USDT")
    bill = bills.pay(amina.id, "KPLC_PREPAID", METER, Money.of(1000, KES))
    sale = stack.sells.start(amina.id, Money.of(10, USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    lines = stack.wallets.history(amina.id)
    assert all(line.kind in KINDS for line in lines)
    paid_bill = [line for line in lines if line.kind == "bill"]
    assert [(line.amount, line.description) for line in paid_bill] == [
        (Money.of(-1000, KES), f"bill {bill.id} paid to paybill 888880, account {METER}")
    ]
    assert stack.wallets.history(amina.id, kind="bill") == paid_bill
    sent = f"sale {sale.id}: {sale.payout.amount} sent to your M-Pesa number, M-Pesa charge {sale.payout.charge}"
    sold = [line for line in lines if line.description == sent]
    assert len(sold) == 1 and sold[0].kind == "sell" and sold[0].amount.amount < 0
    assert not [line for line in lines if "po_" in line.description]  # only the test's own funding lines are other


def test_a_bill_whose_b2b_send_got_no_answer_is_a_difference_until_two_people_conclude_it_failed(stack, bills):
    """R10-4 for a wallet's bill: the B2B request's connection dropped (no id to ask Transaction Status by), so the
    bill stays unknown; past the bound reconciliation reports it, and once two people conclude it failed from
    M-Pesa's record the wallet has its shillings back and reconciliation no longer reports it."""
    from cryptopay.core.mobile_money import OutcomeUnknown
    from cryptopay.core.payouts.model import ConclusionOutcome
    from cryptopay.core.reconciliation import Outside, Reconciliation

    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "2000", "KES")
    bill = bills.pay(amina.id, "DSTV", "7012345678", Money.of(1500, KES))
    real_b2b = stack.mpesa.b2b

    def lost(request, **kw):
        raise OutcomeUnknown("read timeout")

    stack.mpesa.b2b = lost
    stack.payouts.submit_payouts()
    stack.mpesa.b2b = real_b2b
    stack.clock.advance(hours=1)
    stack.payouts.query_stale_payouts()  # parked: no id to ask by
    reconciliation = Reconciliation(
        uow=stack.backend.uow, ledger=stack.ledger, clock=stack.clock, wallets=stack.backend.uow
    )

    def unresolved() -> list[str]:
        report = reconciliation.reconcile(Outside())
        (result,) = [r for r in report.results if r.check.name == "payouts-unresolved"]
        return [d.subject for d in result.differences]

    payout_id = bills.get(amina.id, bill.id).payout.id
    assert unresolved() == [f"payout {payout_id} (unknown)"]
    assert stack.balance(amina, "KES") == Money.of(500, KES)
    stack.payouts.propose_conclusion(
        payout_id,
        outcome=ConclusionOutcome.FAILED,
        receipt=None,
        evidence="statement of 600000 for the day: no payment to 444900",
        note="never reached M-Pesa",
        by="ops:ann",
    )
    stack.payouts.approve_conclusion(payout_id, by="user:usr_bob", outcome=ConclusionOutcome.FAILED, receipt=None)
    assert bills.get(amina.id, bill.id).state == "failed"
    assert stack.balance(amina, "KES") == Money.of(2000, KES)
    assert stack.mpesa.business_balance("444900") == Money.zero(KES)
    assert unresolved() == [] and set(stack.ledger.trial_balance().values()) == {0}
