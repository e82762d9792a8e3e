"""One bank reference (or M-Pesa receipt) claimed for two payouts at once, on PostgreSQL with real threads (R13-8).

Each decision that claims a receipt takes the value's lock (``uow.payouts.claim_receipt_lock``) before it looks whether
another payout carries it (``_receipt_free``): two approvals naming one reference on two payouts take turns, the second
sees the first's booking and is refused (409), nothing written. Without the lock each read the other's write
uncommitted and both completed with one reference."""

from __future__ import annotations

from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import Conflict
from cryptopay.core.money import USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from sqlalchemy.engine import Engine

from tests.contract.test_payments_repository_contract import SqlPaymentsStack
from tests.support.sql_engines import race
from tests.unit.payments.test_payments_bank_settlement import AFTER_CUTOFF


def _attempt(call):
    try:
        return call().state
    except Conflict as refused:
        return refused


def test_one_bank_reference_confirmed_on_two_transfers_at_once_completes_one(pg_engine: Engine) -> None:
    stack = SqlPaymentsStack(SqlStorage(pg_engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.BANK, "CITI:12345678")
    for merchant in ("m1", "m2"):
        stack.add_merchant(merchant, settlement=profile)
        stack.pay(stack.invoicing.create_invoice(merchant, Money.of("100", USDT)).id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF)
    ids = [p.id for run in stack.settling.run_settlements() for p in run.payouts]
    assert len(ids) == 2
    stack.payouts.bank_file(actor="ops:amina")
    for n, payout_id in enumerate(ids):  # proposed on both: nothing is booked yet
        stack.payouts.propose_bank_confirmation(payout_id, reference="REF-777", note="", by=f"user:usr_p{n}")

    approve = stack.payouts.approve_bank_confirmation
    got = race(2, lambda n: _attempt(lambda: approve(ids[n], by=f"user:usr_a{n}", reference="ref-777")))

    assert sorted(str(g) for g in got if isinstance(g, PayoutState)) == [str(PayoutState.COMPLETED)], got
    [loser] = [g for g in got if isinstance(g, Conflict)]
    assert "REF-777 is payout" in str(loser)
    states = sorted(stack.payouts.get_payout(i).state.value for i in ids)
    assert states == ["completed", "submitted"]
    assert stack.books_balanced()
