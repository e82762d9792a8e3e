"""Refusal before overdraft on the in-memory stack: a payout the float cannot cover is held, alerted, then released."""

from __future__ import annotations

from cryptopay.core import flows
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.treasury import TreasuryStack
from cryptopay.core.treasury import Fill

INSTANT = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")


def settled(stack: TreasuryStack, kes: str = "5000") -> str:
    """An invoice of ``kes`` paid, confirmed and settled: its payout is planned. Returns the payout id."""
    p = stack.payments
    p.add_merchant("m1", settlement=INSTANT, fee_percent="0")
    invoice = p.invoicing.create_invoice("m1", Money.of(kes, KES))
    p.pay(invoice.id)
    p.confirm()
    p.settling.run_settlements()
    with p.uow() as uow:
        (payout,) = uow.payouts.by_state(PayoutState.PLANNED, limit=10)
    return payout.id


def test_a_payout_the_float_cannot_cover_is_held_with_a_reason_an_alert_and_a_metric():
    """M-Pesa says the float holds KES 3,000 and 1,000 is reserved: a KES 4,999 payout is held, not sent."""
    stack = TreasuryStack(reserve="1000")
    stack.payments.mpesa.float_balance = Money.of("3000", KES)
    stack.float_reported()
    payout_id = settled(stack)
    assert stack.payments.payouts.submit_payouts() == []
    payout = stack.payments.payouts.get_payout(payout_id)
    assert payout.state is PayoutState.PLANNED and payout.held is not None
    assert "cannot cover" in payout.held and "2000.00 available" in payout.held
    assert stack.payments.mpesa.float_balance == Money.of("3000", KES)  # nothing reached Safaricom
    (alert,) = stack.notifier.sent_to(TreasuryStack.ALERT_TO)
    assert payout_id in alert.subject
    assert stack.payments.metrics.get("cryptopay_payouts_held") == 1
    held = [r for r in stack.payments.storage.audit_records() if r.action == "payout.held"]
    assert len(held) == 1
    stack.payments.payouts.submit_payouts()  # asked again: still held, alerted once
    assert len(stack.notifier.sent_to(TreasuryStack.ALERT_TO)) == 1


def test_a_recorded_top_up_releases_the_held_payout_and_the_next_run_pays_it():
    """KES 10,000 moved into the float and recorded: the payout is released, then sent and completed."""
    stack = TreasuryStack(reserve="1000")
    p = stack.payments
    p.mpesa.float_balance = Money.of("3000", KES)
    stack.float_reported()
    payout_id = settled(stack)
    p.payouts.submit_payouts()
    p.mpesa.float_balance += Money.of("10000", KES)  # the money really arrives at M-Pesa
    topup = stack.rebalancing.record_topup(reference="bank-771", amount=Money.of("10000", KES), actor="ops")
    assert [po.id for po in topup.released] == [payout_id]
    assert p.payouts.get_payout(payout_id).held is None
    assert p.ledger.balance(flows.FLOAT).posted == Money.of("10000", KES)
    assert p.ledger.balance(flows.BANK).posted == Money.of("-10000", KES)
    p.payouts.submit_payouts()
    p.deliver_callbacks()
    assert p.payouts.get_payout(payout_id).state is PayoutState.COMPLETED
    assert "payout.released" in [r.action for r in p.storage.audit_records()]
    assert p.books_balanced()


def test_a_b2c_result_reports_the_float_and_the_working_account():
    """A completed B2C result's B2CUtilityAccountAvailableFunds becomes M-Pesa's latest word on the float."""
    stack = TreasuryStack()
    settled(stack)
    stack.payments.payouts.submit_payouts()  # the float is unknown: nothing is held
    stack.payments.deliver_callbacks()
    position = stack.guard.position()
    assert position.source.startswith("a B2C result") and position.working == Money.zero(KES)
    mpesa = stack.payments.mpesa
    assert mpesa.charges_paid.is_negative()  # M-Pesa's B2C charge, in its Charges Paid Account
    assert position.known == mpesa.float_balance + mpesa.charges_paid  # the float net of M-Pesa's charges
    assert stack.store.latest_reading().reference.startswith("po_")


def test_an_unknown_float_holds_nothing_and_says_so():
    """With no word from M-Pesa and no baseline, payouts go, and the status says the float is unknown."""
    stack = TreasuryStack(reserve="1000000")
    payout_id = settled(stack)
    assert [po.id for po in stack.payments.payouts.submit_payouts()] == [payout_id]
    assert "unknown" in stack.treasury.status(read_chains=False).float.source


def test_the_baseline_stands_in_for_m_pesa_until_it_speaks():
    """A baseline of KES 2,000 with books at zero: a KES 4,999 payout is held before any Account Balance answer."""
    stack = TreasuryStack(baseline="2000")
    payout_id = settled(stack)
    assert stack.payments.payouts.submit_payouts() == []
    assert stack.payments.payouts.get_payout(payout_id).held is not None


def test_payouts_take_the_float_in_turn_and_the_rest_wait():
    """The float covers the first payout but not both: the first goes, the second is held."""
    stack = TreasuryStack()
    p = stack.payments
    p.mpesa.float_balance = Money.of("6000", KES)
    stack.float_reported()
    first = settled(stack)
    invoice = p.invoicing.create_invoice("m1", Money.of("5000", KES))
    p.pay(invoice.id)
    p.confirm()
    p.settling.run_settlements()
    assert [po.id for po in p.payouts.submit_payouts()] == [first]
    assert stack.guard.position().held == 1


def test_can_cover_answers_for_kes_and_for_the_hot_wallet():
    """The same rule for other payments: KES against the float, USDT against the hot wallet less its reserve."""
    stack = TreasuryStack(reserve="500")
    stack.payments.mpesa.float_balance = Money.of("1500", KES)
    stack.float_reported()
    assert stack.treasury.can_cover(Money.of("1000", KES)).ok
    assert not stack.treasury.can_cover(Money.of("1001", KES)).ok
    stack.balances["tron"].move(Money.of("20", USDT), source=None, to="tron-hot")
    assert stack.treasury.can_cover(Money.of("20", USDT), network="tron").ok
    refused = stack.treasury.can_cover(Money.of("21", USDT), network="tron")
    assert not refused.ok and "hot wallet cannot cover" in refused.reason


def test_a_conversion_into_the_float_is_booked_through_the_trading_accounts():
    """USDT settled to a merchant, then sold above the customers' quote into the float: a gain, books balanced."""
    stack = TreasuryStack()
    p = stack.payments
    settled(stack)  # the merchant's USDT was bought at the quote (130)
    bought, paid = stack.rebalancing.cost_basis("USDT")
    done = stack.rebalancing.record_conversion(
        reference="otc-1",
        network="tron",
        fills=[Fill(bought, p.kes("131").amount)],
        fee=p.kes("100"),
        venue="OTC desk",
        actor="ops",
        into="float",
    )
    assert done.cost == paid and done.gain.is_positive()
    assert p.ledger.balance(flows.FX_GAIN).posted == done.gain
    assert p.ledger.balance(flows.CONVERSION_FEES).posted == p.kes("100")
    assert stack.rebalancing.cost_basis("USDT")[0].is_zero()
    assert p.books_balanced()


def test_a_float_below_its_alert_level_is_alerted_once_until_it_recovers():
    """The float falls below the alert level: one email, the gauge at 1; again after it recovered and fell again."""
    stack = TreasuryStack(low_alert="5000")
    stack.payments.mpesa.float_balance = Money.of("4000", KES)
    stack.float_reported()
    stack.treasury.measure()
    stack.treasury.measure()
    (alert,) = stack.notifier.sent_to(TreasuryStack.ALERT_TO)
    assert "float is low" in alert.subject and "4000.00 KES" in alert.body
    assert stack.payments.metrics.get("cryptopay_float_low") == 1
    stack.rebalancing.record_topup(reference="bank-9", amount=Money.of("2000", KES), actor="ops")
    stack.treasury.measure()
    assert stack.payments.metrics.get("cryptopay_float_low") == 0
    stack.payments.mpesa.float_balance = Money.of("1000", KES)
    stack.float_reported()
    stack.treasury.measure()
    assert len(stack.notifier.sent_to(TreasuryStack.ALERT_TO)) == 2


def test_a_b2c_result_read_while_another_payout_is_in_flight_is_not_the_floats_word():
    """Two payouts sent, M-Pesa pays both; the first's result is lost (Transaction Status settles it later), the
    second's arrives while the first is still in flight: its utility counts both, the books only one, so it is not
    kept. Before, it was M-Pesa's latest word for good: a float-b2c difference in every reconciliation afterwards
    and a float position off by the first payout (``make chaos``). A result read with nothing else in flight is kept
    and matches the books."""
    stack = TreasuryStack(baseline="10000000")  # the fake M-Pesa's opening float
    p = stack.payments
    p.add_merchant("m1", settlement=INSTANT, fee_percent="0")
    p.add_merchant("m2", settlement=INSTANT, fee_percent="0")
    for merchant, kes in (("m1", "5000"), ("m2", "12000")):
        p.pay(p.invoicing.create_invoice(merchant, Money.of(kes, KES)).id)
    p.confirm()
    p.settling.run_settlements()
    first, second = p.payouts.submit_payouts()
    lost = [d for d in p.mpesa.outbox if first.originator_id in str(d.payload)]
    assert len(lost) == 1 and len(p.mpesa.outbox) == 2
    p.mpesa.outbox.remove(lost[0])  # the first payout's result never comes
    p.deliver_callbacks()
    assert p.payouts.get_payout(second.id).state is PayoutState.COMPLETED
    assert stack.store.latest_reading() is None  # read while the first was in flight: not kept
    p.clock.advance(minutes=3)
    p.payouts.query_stale_payouts()  # Transaction Status: the first was paid
    p.deliver_callbacks()
    assert p.payouts.get_payout(first.id).state is PayoutState.COMPLETED
    assert stack.reconcile().by_check()["float-b2c"] == 0
    p.pay(p.invoicing.create_invoice("m1", Money.of("1500", KES)).id)  # a third payout, alone in flight
    p.confirm()
    p.settling.run_settlements()
    (third,) = p.payouts.submit_payouts()
    p.deliver_callbacks()
    reading = stack.store.latest_reading()
    assert reading is not None and reading.reference == third.id
    assert reading.utility == reading.books + Money.of("10000000", KES)
    report = stack.reconcile()
    assert report.by_check()["float-b2c"] == 0 and "float-b2c" not in report.skipped  # compared, and clean
