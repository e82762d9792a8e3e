"""reviewer13 R13-15: the unresolved payouts and the bank transfers awaiting confirmation are listed a page at a time.

Before, ``Payouts.unresolved`` read the 100 oldest unknown payouts and said nothing of the rest, and
``awaiting_bank_transfer`` (the bank file, the bank confirmations) read the 1,000 oldest payouts in flight of every
method and kept the bank ones: M-Pesa payouts in flight hid the bank transfers made after them."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.unit.reconciliation.test_reconciliation_unknown_payouts import LOST


def _merchants(stack: PaymentsStack, *profiles: tuple[SettlementMethod, str]) -> None:
    for n, (method, destination) in enumerate(profiles):
        profile = SettlementProfile(SettlementSchedule.INSTANT, method, destination)
        stack.add_merchant(f"m{n}", settlement=profile)
        stack.pay(stack.invoicing.create_invoice(f"m{n}", Money.of("10", USDT)).id)
    stack.confirm(3)
    stack.settling.run_settlements()


def test_the_unresolved_payouts_page_on_after_the_last_one_shown() -> None:
    stack = PaymentsStack()
    _merchants(stack, *[(SettlementMethod.MPESA_B2C, LOST)] * 3)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()
    stack.clock.advance(hours=1)
    every = [p.id for p in stack.payouts.unresolved()]
    assert len(every) == 3
    first = stack.payouts.unresolved(limit=2)
    second = stack.payouts.unresolved(limit=2, after=first[-1].id)
    assert [p.id for p in first + second] == every and len(second) == 1
    assert stack.payouts.unresolved(limit=2, after=every[-1]) == []
    with pytest.raises(InvalidInput, match="no payout po_nope to list after"):
        stack.payouts.unresolved(after="po_nope")


def test_bank_transfers_are_read_past_any_number_of_mpesa_payouts_in_flight() -> None:
    """Two M-Pesa payouts sent (no result yet) before a bank transfer: a page of one still finds the transfer; the
    bank file and the confirmations read past them too."""
    stack = PaymentsStack()
    _merchants(
        stack,
        (SettlementMethod.MPESA_B2C, LOST),
        (SettlementMethod.MPESA_B2C, LOST),
        (SettlementMethod.BANK, "CITI:1234567890"),
    )
    stack.payouts.submit_payouts()
    with stack.uow() as uow:
        in_flight = uow.payouts.by_state(PayoutState.SUBMITTED)
    assert len(in_flight) == 3 and in_flight[-1].is_bank_transfer and not in_flight[0].is_bank_transfer
    [bank] = stack.payouts.awaiting_bank_transfer(limit=1)
    assert bank.is_bank_transfer
    assert [p.id for p in stack.payouts.bank_file(actor="ops:ann", limit=1)] == [bank.id]
    stack.payouts.propose_bank_confirmation(bank.id, reference="FT1", note="", by="user:amina")
    assert [p.id for p in stack.payouts.pending_bank_confirmations(limit=1)] == [bank.id]
    assert stack.payouts.pending_bank_confirmations(limit=1, after=bank.id) == []
