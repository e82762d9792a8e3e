"""Settlement runs: Nairobi cut-offs, conversion at a locked quote, M-Pesa-sized payout plans, holds."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
from cryptopay.core import flows
from cryptopay.core.money import BTC, KES, USDC, USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule, SettlementState
from cryptopay.core.testing.payments_stack import PaymentsStack

AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi


def paid(stack: PaymentsStack, usdt: str, merchant: str = "m1") -> None:
    invoice = stack.invoicing.create_invoice(merchant, Money.of(usdt, USDT))
    stack.pay(invoice.id)
    stack.confirm(3)


def settlements(stack: PaymentsStack, merchant: str = "m1") -> list:
    with stack.uow() as uow:
        return uow.settlements.list_for_merchant(merchant, before=None, limit=100)


def test_a_daily_settlement_sells_the_usdt_at_the_bid_and_holds_each_payout(stack: PaymentsStack) -> None:
    """99 USDT at bid 129.35 gives KES 12,805.65 (spread 64.35 to revenue); KES 12,805 is held for one payout."""
    paid(stack, "100")
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    settlement = run.settlement
    assert settlement is not None and settlement.state is SettlementState.PAYING
    assert (settlement.converted, settlement.credited) == (Money.of("99", USDT), Money.of("12805.65", KES))
    assert settlement.fx_spread == Money.of("64.35", KES) and stack.balance(flows.FX_SPREAD) == settlement.fx_spread
    assert [(p.amount, p.state) for p in run.payouts] == [(Money.of("12805", KES), PayoutState.PLANNED)]
    merchant_kes = stack.ledger.balance(flows.merchant_liability("m1", KES))
    assert merchant_kes.available == Money.of("0.65", KES) and merchant_kes.posted == Money.of("12805.65", KES)
    assert stack.balance(flows.merchant_liability("m1", USDT)) == Money.of("0", USDT)
    assert {"settlement.convert", "payout.hold", "settlement.run"} <= {r.action for r in stack.storage.audit_records()}
    assert stack.books_balanced()


def test_a_cut_off_is_settled_once(stack: PaymentsStack) -> None:
    """A second run before the next cut-off does nothing; after it, the new balance is settled."""
    paid(stack, "100")
    stack.clock.set(AFTER_CUTOFF)
    stack.settling.run_settlements()
    paid(stack, "50")
    [again] = stack.settling.run_settlements()
    assert again.settlement is None and again.reason.startswith("not due")
    stack.clock.set(datetime(2026, 1, 6, 14, 1, tzinfo=UTC))
    [next_day] = stack.settling.run_settlements()
    assert next_day.settlement is not None and next_day.settlement.converted == Money.of("49.5", USDT)
    assert len(settlements(stack)) == 2


def test_a_large_balance_is_split_into_legal_payouts_within_the_daily_limit(stack: PaymentsStack) -> None:
    """KES 512,226 to one phone: 250,000 then 249,999 (no two alike, daily limit 500,000); the rest waits."""
    paid(stack, "4000")
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    assert [str(p.amount.amount) for p in run.payouts] == ["250000.00", "249999.00"]
    assert run.settlement is not None and run.settlement.remainder == Money.of("12227.00", KES)
    assert stack.ledger.balance(flows.merchant_liability("m1", KES)).available == Money.of("12227.00", KES)
    assert stack.books_balanced()


def test_a_balance_below_the_minimum_waits_and_the_cut_off_is_marked_skipped(stack: PaymentsStack) -> None:
    """KES 64 is under the KES 100 minimum: nothing is converted, the cut-off is recorded as skipped."""
    with stack.uow() as uow:  # USDT 0.5 is under the default least invoice (USDT 1): this store sets its own
        uow.stores.put(attrs.evolve(uow.stores.get("m1"), min_invoice=Decimal("1")))
    paid(stack, "0.5")
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    assert run.settlement is not None and run.settlement.state is SettlementState.SKIPPED
    assert "below the minimum" in run.reason
    assert stack.balance(flows.merchant_liability("m1", USDT)) == Money.of("0.495", USDT)


def test_an_idle_instant_merchant_leaves_no_record() -> None:
    """An instant merchant with too little to pay gets no settlement row at all."""
    stack = PaymentsStack()
    stack.add_merchant(
        "m2", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
    )
    [run] = stack.settling.run_settlements()
    assert run.settlement is None and settlements(stack, "m2") == []


def test_a_dry_run_plans_without_writing(stack: PaymentsStack) -> None:
    """A dry run shows the plan and leaves the books, the settlements and the outbox untouched."""
    paid(stack, "100")
    stack.clock.set(AFTER_CUTOFF)
    topics = stack.topics()
    [run] = stack.settling.run_settlements(dry_run=True)
    assert run.dry_run and run.plan is not None and run.plan.total_paid == Money.of("12805", KES)
    assert settlements(stack) == [] and stack.topics() == topics
    assert stack.balance(flows.merchant_liability("m1", USDT)) == Money.of("99", USDT)


def test_weekly_settlements_wait_for_friday_in_nairobi() -> None:
    """A weekly merchant settled on Monday waits until Friday 17:00 Nairobi for the next run."""
    stack = PaymentsStack()
    stack.add_merchant(
        "m3", settlement=SettlementProfile(SettlementSchedule.WEEKLY, SettlementMethod.MPESA_B2C, "0712345678")
    )
    paid(stack, "100", "m3")
    stack.settling.run_settlements()
    paid(stack, "100", "m3")
    stack.clock.set(datetime(2026, 1, 9, 13, 59, tzinfo=UTC))  # Friday 16:59 in Nairobi
    assert stack.settling.run_settlements()[0].settlement is None
    stack.clock.set(datetime(2026, 1, 9, 14, 0, tzinfo=UTC))
    [friday] = stack.settling.run_settlements()
    assert friday.settlement is not None and friday.settlement.cutoff == datetime(2026, 1, 9, 14, 0, tzinfo=UTC)


def test_a_bank_code_missing_from_the_catalogue_is_reported_not_paid() -> None:
    """A profile stored before the bank catalogue with an unknown bank code: reported, nothing planned."""
    stack = PaymentsStack()
    stack.add_merchant(
        "m4", settlement=SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.BANK, "KCB01:1234567890")
    )
    [run] = stack.settling.run_settlements()
    assert run.settlement is None and "unknown bank code" in run.reason


def test_without_a_rate_nothing_is_settled(stack: PaymentsStack) -> None:
    """When no rate source answers, the run reports it and changes nothing."""
    paid(stack, "100")
    stack.rates.fail("HTTP 500")
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    assert run.settlement is None and run.reason.startswith("unavailable")
    assert stack.balance(flows.merchant_liability("m1", USDT)) == Money.of("99", USDT)


def test_a_new_payout_destination_receives_nothing_until_its_cool_off_ends(stack: PaymentsStack) -> None:
    """While a changed destination cools off the run plans no payout; the balance waits, then is paid there."""
    paid(stack, "100")
    stack.clock.set(AFTER_CUTOFF)
    merchant = stack.merchants.get("m1")
    assert merchant is not None
    merchant.destination_ready_at = AFTER_CUTOFF + timedelta(hours=24)
    stack.merchants.update(merchant)
    [held] = stack.settling.run_settlements()
    assert held.settlement is None and "cools off" in held.reason and held.payouts == ()
    assert stack.balance(flows.merchant_liability("m1", USDT)) == Money.of("99", USDT)
    stack.clock.set(AFTER_CUTOFF + timedelta(hours=24, minutes=1))
    [paid_out] = stack.settling.run_settlements()
    assert paid_out.settlement is not None and len(paid_out.payouts) == 1


def _bitcoin_and_tron_merchant() -> PaymentsStack:
    stack = PaymentsStack(networks=("tron", "bitcoin"))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile, rails=("usdt-tron", "btc-bitcoin"))
    stack.rates.set("USD/KES", "129")
    stack.rates.set("BTC/USD", "100000")
    return stack


def test_bitcoin_is_settled_in_shillings_like_usdt_each_at_its_own_quote() -> None:
    """A merchant paid in BTC and in USDT is settled in one run: each asset sold at its own KES quote, one payout."""
    stack = _bitcoin_and_tron_merchant()
    usdt = stack.invoicing.create_invoice("m1", Money.of("1000", KES), rails=["usdt-tron"])
    btc = stack.invoicing.create_invoice("m1", Money.of("1000", KES), rails=["btc-bitcoin"])
    stack.pay(usdt.id)
    stack.pay(btc.id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    settlement = run.settlement
    assert settlement is not None, run.reason
    assert [c.converted.asset.code for c in settlement.conversions] == ["USDT", "BTC"]
    assert len({c.quote_id for c in settlement.conversions}) == 2
    assert settlement.credited == sum((c.credited for c in settlement.conversions), Money.zero(KES))
    assert Money.of("1960", KES) <= settlement.credited <= Money.of("1980", KES)  # 2 x KES 1,000 less fee and spread
    assert stack.balance(flows.merchant_liability("m1", BTC)) == Money.zero(BTC)
    assert [p.amount for p in run.payouts] == [settlement.credited.whole()]
    assert stack.books_balanced()


def test_a_bitcoin_balance_nobody_prices_now_waits_and_says_why() -> None:
    """With no fresh BTC price the merchant's run is refused with the reason; nothing is converted or paid."""
    stack = _bitcoin_and_tron_merchant()
    invoice = stack.invoicing.create_invoice("m1", Money.of("1000", KES), rails=["btc-bitcoin"])
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF)
    stack.rates.go_stale(timedelta(hours=1))
    [run] = stack.settling.run_settlements()
    assert run.settlement is None and "no fresh rate for BTC/KES" in run.reason
    assert stack.balance(flows.merchant_liability("m1", BTC)).is_positive()


def test_usdc_is_settled_at_its_own_quote() -> None:
    """A USDC payment (on an EVM rail) is sold at a USDC/KES quote, crossed through the median USDC/USD."""
    stack = PaymentsStack(networks=("ethereum",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile, rails=("usdc-ethereum",))
    stack.rates.set("USD/KES", "129")
    stack.rates.set("USDC/USD", "1")
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDC))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    assert run.settlement is not None, run.reason
    [conversion] = run.settlement.conversions
    assert conversion.converted == Money.of("99", USDC)  # 1% fee
    assert conversion.credited == Money.of("12707.14", KES)  # 99 x 129 x 0.995, rounded down
    assert stack.books_balanced()


def test_an_owed_clawback_is_audited_once_not_at_every_settlement_run() -> None:
    """A payment reorganised away after it was settled leaves a clawback owed: ``invoice.clawback_owed`` is recorded
    once, runs that still cannot reverse it write nothing, and the run that can reverses it once (review R23)."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m5", settlement=profile)
    paid(stack, "100", "m5")
    stack.settling.run_settlements(merchant_id="m5")
    assert stack.balance(flows.merchant_liability("m5", USDT)) == Money.of("0", USDT)
    stack.chains["tron"].reorg(4)
    stack.sync()

    def actions() -> list[str]:
        return [
            r.action
            for r in stack.storage.audit_records()
            if r.action.startswith(("invoice.clawback", "invoice.credit_reversed"))
        ]

    assert actions() == ["invoice.clawback_owed"]
    stack.settling.run_settlements(merchant_id="m5")
    stack.settling.run_settlements(merchant_id="m5")
    assert actions() == ["invoice.clawback_owed"]
    with stack.uow() as uow:
        [owed] = uow.payment_credits.pending_clawbacks("m5")
    stack.chains["tron"].pay(
        stack.invoicing.create_invoice("m5", Money.of("200", USDT)).options[0].address, Money.of("200", USDT)
    )
    stack.confirm(3)
    stack.settling.run_settlements(merchant_id="m5")
    assert actions() == ["invoice.clawback_owed", "invoice.credit_reversed"]
    with stack.uow() as uow:
        assert uow.payment_credits.pending_clawbacks("m5") == []
        [reversed_] = [c for c in uow.payment_credits.for_invoice(owed.invoice_id) if c.id == owed.id]
    assert reversed_.reversal_entry_id is not None and not reversed_.clawback_pending


def test_an_owed_clawback_is_taken_back_by_the_next_payment_credited_not_only_at_settlement() -> None:
    """A settled payment reorganised away leaves a clawback owed; the merchant's next confirmed payment reverses it
    as it is credited (no settlement run between), so that money cannot be refunded or paid out first."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m5", settlement=profile)
    paid(stack, "100", "m5")
    stack.settling.run_settlements(merchant_id="m5")
    stack.chains["tron"].reorg(4)
    stack.sync()
    with stack.uow() as uow:
        [owed] = uow.payment_credits.pending_clawbacks("m5")
    later = stack.invoicing.create_invoice("m5", Money.of("200", USDT))
    stack.chains["tron"].pay(later.options[0].address, Money.of("200", USDT))
    stack.confirm(3)
    with stack.uow() as uow:
        assert uow.payment_credits.pending_clawbacks("m5") == []
        [taken] = [c for c in uow.payment_credits.for_invoice(owed.invoice_id) if c.id == owed.id]
    assert taken.reversal_entry_id is not None
    reversed_ = [r for r in stack.storage.audit_records() if r.action == "invoice.credit_reversed"]
    assert [dict(r.details)["credit"] for r in reversed_] == [owed.id]
    assert stack.balance(flows.merchant_liability("m5", USDT)) == Money.of("198", USDT) - owed.received + owed.fee
    assert stack.books_balanced()
