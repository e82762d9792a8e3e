"""A merchant's refund after its crypto was settled (outside review R25): funded by the merchant at a locked quote's
ask, owed as a receivable, netted from its next settlements (never below zero, the rest carried over), capped by
what its settlements paid it in the last 30 days."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import Refused
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments import RefundState
from cryptopay.core.payments.refunds import BeyondRecentVolume
from cryptopay.core.ports.chains import TxState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule, SettlementState
from cryptopay.core.testing.payments_stack import PaymentsStack

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi
RECEIVABLE = flows.merchant_receivable("m1")
ASK = "130.65"  # the stack's USDT/KES at 130, 0.5 % either side


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


def kes(value: str) -> Money:
    return Money.of(value, KES)


def paid(stack: PaymentsStack, value: str) -> str:
    invoice = stack.invoicing.create_invoice("m1", usdt(value))
    stack.pay(invoice.id)
    stack.confirm(3)
    return invoice.id


def settle(stack: PaymentsStack, day: int) -> str:
    stack.clock.set(AFTER_CUTOFF + timedelta(days=day))
    [run] = stack.settling.run_settlements()
    assert run.settlement is not None, run.reason
    return run.settlement.id


@pytest.fixture
def settled() -> tuple[PaymentsStack, str]:
    """m1 (1 % fee) paid 100 USDT and settled: 99 USDT sold at the bid, KES 12,805.65 credited, nothing left in USDT."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile)
    invoice_id = paid(stack, "100")
    settle(stack, 0)
    assert stack.balance(flows.merchant_liability("m1", USDT)) == usdt("0")
    return stack, invoice_id


def refund(stack: PaymentsStack, invoice_id: str, value: str, *, fund: bool = True):  # type: ignore[no-untyped-def]
    return stack.refunds.refund(
        invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt(value), fund_after_settlement=fund
    )


def test_a_refund_after_settlement_is_funded_by_the_merchant_at_the_ask(settled: tuple[PaymentsStack, str]) -> None:
    """Without funding it is refused as before; funded, the 20 USDT are sold to the merchant at the ask (KES 2,613
    owed), the refund is held from its balance, sent and confirmed; the books balance throughout."""
    stack, invoice_id = settled
    with pytest.raises(Refused, match="already settled"):
        refund(stack, invoice_id, "20", fund=False)
    assert owed(stack) == kes("0")
    funded = refund(stack, invoice_id, "20")
    assert funded.state is RefundState.REQUESTED and funded.amount == usdt("20")
    assert owed(stack) == Money.of(usdt("20").amount * Decimal(ASK), KES)
    [record] = [r for r in stack.storage.audit_records() if r.action == "refund.fund"]
    details = dict(record.details)
    assert (details["funded"], details["owed"]) == (str(usdt("20")), str(kes("2613"))) and details["quote"]
    assert stack.books_balanced()
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(funded.id, TxState.CONFIRMED)
    [done] = stack.refunds.check_refunds()
    assert done.state is RefundState.CONFIRMED and stack.books_balanced()


def test_what_the_merchant_owes_is_netted_from_its_next_settlement(settled: tuple[PaymentsStack, str]) -> None:
    """The next day's 50 USDT (KES 6,402.82 after fee and bid, with the 0.65 left over) pays KES 2,613 less."""
    stack, invoice_id = settled
    refund(stack, invoice_id, "20")
    paid(stack, "50")
    settlement_id = settle(stack, 1)
    with stack.uow() as uow:
        settlement = uow.settlements.get(settlement_id)
        payouts = uow.payouts.for_settlement(settlement_id)
    assert settlement is not None and "2613.00 KES netted for refunds" in settlement.reason
    assert sum((p.amount for p in payouts), kes("0")) == kes("3790")
    assert owed(stack) == kes("0") and stack.books_balanced()
    [run] = [
        r for r in stack.storage.audit_records() if r.action == "settlement.run" and r.subject.endswith(settlement_id)
    ]
    assert dict(run.details)["netted"] == str(kes("2613"))


def test_a_settlement_never_goes_negative_and_the_rest_carries_over(settled: tuple[PaymentsStack, str]) -> None:
    """KES 7,839 owed (60 USDT) against KES 6,403.47: all of it netted, no payout, the settlement complete; the
    KES 1,435.53 left is netted the day after."""
    stack, invoice_id = settled
    refund(stack, invoice_id, "60")
    assert owed(stack) == kes("7839")
    paid(stack, "50")
    first = settle(stack, 1)
    with stack.uow() as uow:
        settlement = uow.settlements.get(first)
        assert uow.payouts.for_settlement(first) == []
    assert settlement is not None and settlement.state is SettlementState.COMPLETED
    assert stack.ledger.balance(flows.merchant_liability("m1", KES)).available == kes("0")  # the first payout held
    assert owed(stack) == kes("1435.53")
    paid(stack, "50")
    settle(stack, 2)
    assert owed(stack) == kes("0") and stack.books_balanced()


def test_a_refund_the_merchant_could_not_repay_is_refused_and_nothing_is_held(
    settled: tuple[PaymentsStack, str],
) -> None:
    """The whole 100 USDT back would be KES 13,065 owed, more than the KES 12,805.65 its settlements paid it in the
    last 30 days: refused, nothing funded or held; 30 days on, nothing counts at all."""
    stack, invoice_id = settled
    with pytest.raises(BeyondRecentVolume, match=r"13065\.00") as refused:
        refund(stack, invoice_id, "100")
    assert refused.value.code == "beyond_recent_volume"
    assert stack.refunds.list_refunds(invoice_id) == [] and owed(stack) == kes("0")
    stack.clock.advance(days=31)
    with pytest.raises(BeyondRecentVolume):
        refund(stack, invoice_id, "1")


def test_the_remittance_desk_is_never_funded() -> None:
    """The desk's coins are its orders': a refund its balance does not cover is refused even when funding is asked
    (here the 1 USDT the fee took of a 100 USDT invoice), and it owes nothing."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant(flows.REMITTANCE_DESK, settlement=profile)
    invoice = stack.invoicing.create_invoice(flows.REMITTANCE_DESK, usdt("100"))
    stack.pay(invoice.id)
    stack.confirm(3)
    with pytest.raises(Refused, match="already settled"):
        refund(stack, invoice.id, "100")
    assert flows.merchant_receivable(flows.REMITTANCE_DESK) not in stack.ledger.balances(
        [flows.merchant_receivable(flows.REMITTANCE_DESK)]
    )


def owed(stack: PaymentsStack) -> Money:
    """What m1 owes for refunds funded after settlement (nothing before its first)."""
    found = stack.ledger.balances([RECEIVABLE]).get(RECEIVABLE)
    return found.posted if found is not None else kes("0")
