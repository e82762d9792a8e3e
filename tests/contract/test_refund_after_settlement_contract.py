"""A refund after settlement, funded by the merchant and netted from its next settlements (outside review R25): the
same figures in memory, on SQLite and on PostgreSQL (the receivable's account, its lock and the netting entry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import flows
from cryptopay.core.errors import Refused
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments import RefundState
from cryptopay.core.payments.refunds import BeyondRecentVolume
from cryptopay.core.payments.summary import owed_by_merchant
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule, SettlementState
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.contract.test_payments_repository_contract import SqlPaymentsStack

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi
RECEIVABLE = flows.merchant_receivable("m1")


@pytest.fixture
def stack(engine):
    found = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    found.add_merchant("m1", settlement=profile)
    return found


def _paid(stack: PaymentsStack, value: str) -> str:
    invoice = stack.invoicing.create_invoice("m1", Money.of(value, USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    return invoice.id


def _settle(stack: PaymentsStack, day: int) -> str:
    stack.clock.set(AFTER_CUTOFF + timedelta(days=day))
    [run] = stack.settling.run_settlements()
    assert run.settlement is not None, run.reason
    return run.settlement.id


def _owed(stack: PaymentsStack) -> Money:
    found = stack.ledger.balances([RECEIVABLE]).get(RECEIVABLE)
    return found.posted if found is not None else Money.zero(KES)


def _refund(stack: PaymentsStack, invoice_id: str, value: str, *, fund: bool = True):  # type: ignore[no-untyped-def]
    return stack.refunds.refund(
        invoice_id,
        address=CUSTOMER,
        requested_by="user:u1",
        amount=Money.of(value, USDT),
        fund_after_settlement=fund,
    )


def test_a_settled_merchants_refund_is_owed_and_netted_across_settlements(stack: PaymentsStack) -> None:
    """100 USDT settled (KES 12,805.65); a 60 USDT refund after it is KES 7,839 owed (the ask, 130.65); the next
    day's 50 USDT (KES 6,403.47) all goes to it, no payout; the day after, the KES 1,435.53 left is netted and the
    rest paid. A refund beyond the 30 days' settlements is refused; the books balance throughout."""
    invoice_id = _paid(stack, "100")
    _settle(stack, 0)
    with pytest.raises(Refused, match="already settled"):
        _refund(stack, invoice_id, "60", fund=False)
    with pytest.raises(BeyondRecentVolume):
        _refund(stack, invoice_id, "100")
    refund = _refund(stack, invoice_id, "60")
    assert refund.state is RefundState.REQUESTED and _owed(stack) == Money.of("7839", KES)
    with stack.uow() as uow:
        stored = uow.refunds.get(refund.id)
    assert stored is not None and (stored.funded, stored.owed) == (Money.of("60", USDT), Money.of("7839", KES))
    with stack.uow() as uow:  # the webhook's message (its funding sent in payload v2 only)
        [requested] = [
            m.payload for m in uow.outbox.due(stack.clock.now(), limit=1000) if m.topic == "refund.requested"
        ]
    funding = ("funded_by_merchant", "funded_by_merchant_asset", "owed_by_merchant")
    assert tuple(requested[k] for k in funding) == ("60.000000", "USDT", "7839.00")
    _paid(stack, "50")
    netted = _settle(stack, 1)
    with stack.uow() as uow:
        settlement = uow.settlements.get(netted)
        assert uow.payouts.for_settlement(netted) == []
    assert settlement is not None and settlement.state is SettlementState.COMPLETED
    assert _owed(stack) == Money.of("1435.53", KES)
    _paid(stack, "50")
    paying = _settle(stack, 2)
    with stack.uow() as uow:
        payouts = uow.payouts.for_settlement(paying)
    assert _owed(stack) == Money.zero(KES)
    assert sum((p.amount for p in payouts), Money.zero(KES)) == Money.of("4967", KES)  # 6,402.82 - 1,435.53, whole
    assert stack.books_balanced()
    # as of a past moment (a monthly statement's end): what was owed then, read from the ledger's history
    as_of = [owed_by_merchant(stack.ledger, "m1", as_of=AFTER_CUTOFF + timedelta(days=d, hours=1)) for d in range(3)]
    assert as_of == [Money.of("7839", KES), Money.of("1435.53", KES), Money.zero(KES)]
    assert owed_by_merchant(stack.ledger, "m1", as_of=AFTER_CUTOFF - timedelta(days=1)) == Money.zero(KES)
