"""Correcting the M-Pesa receipt two admins concluded a payout with (a receipt mistyped from the statement): one admin
proposes the right one with a reason, a second approves the receipt they read; only the reference changes (the
ledger is untouched), the old one is kept, and reconciliation then agrees with M-Pesa's statement."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from cryptopay.core import flows
from cryptopay.core.compliance.four_eyes import Appointment, FourEyes
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.money import KES
from cryptopay.core.payouts.model import ConclusionOutcome, PayoutState
from cryptopay.core.payouts.service import SamePerson
from cryptopay.core.settlement import SettlementMethod
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.unit.reconciliation.test_reconciliation_unknown_payouts import (
    found,
    mpesa_says,
    paid_but_unknown,
    payout_statement,
    settled,
)

MISTYPED = "NLJ7RT61SW"


def concluded_with_a_typo() -> tuple[PaymentsStack, str, str]:
    """A payout M-Pesa paid, concluded completed by two admins with a receipt one letter off M-Pesa's."""
    stack, payout = paid_but_unknown()
    [line] = [x for x in payout_statement(stack).lines if x.is_payout]
    stack.payouts.propose_conclusion(
        payout.id,
        outcome=ConclusionOutcome.COMPLETED,
        receipt=MISTYPED,
        evidence="the statement, read by eye",
        note="paid",
        by="user:usr_ann",
    )
    stack.payouts.approve_conclusion(
        payout.id, by="user:usr_bob", outcome=ConclusionOutcome.COMPLETED, receipt=MISTYPED
    )
    return stack, payout.id, line.receipt


def _money(stack: PaymentsStack, merchant_id: str) -> list[object]:
    accounts = (flows.FLOAT, flows.IN_FLIGHT, flows.merchant_liability(merchant_id, KES))
    return [stack.balance(a) for a in accounts]


def test_two_admins_correct_a_mistyped_receipt_and_nothing_else_changes() -> None:
    stack, payout_id, right = concluded_with_a_typo()
    assert found(stack.reconciliation.reconcile(mpesa_says(stack)), "mpesa-statement")  # the typo: a difference
    before = _money(stack, stack.payouts.get_payout(payout_id).merchant_id)
    proposed = stack.payouts.propose_receipt_correction(
        payout_id, receipt=f" {right.lower()} ", reason="one letter off the statement", by="user:usr_cleo"
    )
    assert proposed.receipt == MISTYPED and proposed.correction is not None  # nothing booked until approved
    assert proposed.correction.receipt == right and proposed.correction.before == MISTYPED
    with pytest.raises(SamePerson):
        stack.payouts.approve_receipt_correction(payout_id, by="user:usr_cleo", receipt=right)
    with pytest.raises(Conflict):  # not the receipt proposed
        stack.payouts.approve_receipt_correction(payout_id, by="user:usr_dan", receipt="NLJ7RT61SX")
    done = stack.payouts.approve_receipt_correction(payout_id, by="user:usr_dan", receipt=right)
    assert (done.state, done.receipt, done.correction) == (PayoutState.COMPLETED, right, None)
    [kept] = done.corrections
    assert (kept.before, kept.receipt, kept.by, kept.approved_by) == (MISTYPED, right, "user:usr_cleo", "user:usr_dan")
    assert _money(stack, done.merchant_id) == before and stack.books_balanced()  # the ledger untouched
    [told] = stack.outbox("payout.receipt_corrected")  # the merchant heard the old receipt with payout.completed
    assert (told.payload["payout_id"], told.payload["receipt"]) == (payout_id, right)
    with stack.uow() as uow:
        assert [p.id for p in uow.payouts.with_receipt(right)] == [payout_id]
        assert uow.payouts.with_receipt(MISTYPED) == []
    actions = [r.action for r in stack.storage.audit_records() if r.subject == f"payout:{payout_id}"]
    assert actions[-3:] == [
        "payout.receipt_correction_proposed",
        "payout.receipt_correction_same_person_refused",
        "payout.receipt_corrected",
    ]
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert report.clean, [(r.check.name, r.differences) for r in report.results if r.differences]


def test_a_bad_or_taken_receipt_or_a_receipt_from_mpesa_is_refused_and_a_proposal_can_be_declined() -> None:
    stack, payout_id, right = concluded_with_a_typo()
    propose = stack.payouts.propose_receipt_correction
    for receipt in ("NLJ7", "NLJ7-RT61SV", MISTYPED):  # too short, not M-Pesa's letters and digits, its own
        with pytest.raises(InvalidInput):
            propose(payout_id, receipt=receipt, reason="typo", by="user:usr_cleo")
    with pytest.raises(InvalidInput):
        propose(payout_id, receipt=right, reason=" ", by="user:usr_cleo")
    with pytest.raises(NotFound):
        propose("po_nope", receipt=right, reason="typo", by="user:usr_cleo")
    other, paid = settled(SettlementMethod.MPESA_B2C, "254712345678")
    other.payouts.submit_payouts()
    other.deliver_callbacks()
    by_mpesa = other.payouts.get_payout(paid.id)
    assert by_mpesa.state is PayoutState.COMPLETED and by_mpesa.receipt
    with pytest.raises(Refused):  # M-Pesa's own result: its word, not staff's
        other.payouts.propose_receipt_correction(paid.id, receipt="NLJ7RT61SV", reason="x", by="user:usr_cleo")
    with stack.uow() as uow:  # another payout booked with a receipt already
        mine = uow.payouts.get(payout_id)
        assert mine is not None
        uow.payouts.add(attrs.evolve(mine, id="po_other", originator_id="po_other-1", receipt="NLJ7RT61SX"))
    with pytest.raises(Conflict):
        propose(payout_id, receipt="nlj7rt61sx", reason="typo", by="user:usr_cleo")
    stack.payouts.propose_receipt_correction(payout_id, receipt=right, reason="typo", by="user:usr_cleo")
    with pytest.raises(Conflict):  # one proposal at a time
        propose(payout_id, receipt="NLJ7RT61SX", reason="typo", by="user:usr_dan")
    declined = stack.payouts.decline_receipt_correction(payout_id, by="user:usr_dan", note="not on the statement")
    assert (declined.receipt, declined.correction, declined.corrections) == (MISTYPED, None, ())
    with pytest.raises(InvalidState):
        stack.payouts.approve_receipt_correction(payout_id, by="user:usr_dan", receipt=right)


def test_a_correction_proposed_again_while_its_approver_was_checked_is_not_approved() -> None:
    """review13 R13-3, as for conclusions: four-eyes checks dan against cleo's proposal; before his unit of work cleo
    withdraws it and eve, made staff by dan's own appointer, proposes the same receipt: a 409, nothing booked."""
    stack, payout_id, right = concluded_with_a_typo()

    def propose(by: str) -> None:
        stack.payouts.propose_receipt_correction(payout_id, receipt=right, reason="one letter off", by=by)

    long_ago, meanwhile = stack.clock.now() - timedelta(days=30), []
    staff = {"usr_cleo": "ops:hr", "usr_dan": "ops:root", "usr_eve": "ops:root"}

    def appointment(user_id: str) -> Appointment | None:  # read by dan's four-eyes check, before his unit of work
        if not meanwhile:
            meanwhile.append(user_id)
            stack.payouts.decline_receipt_correction(payout_id, by="user:usr_cleo", note="withdrawn")
            stack.clock.advance(seconds=1)
            propose("user:usr_eve")
        return Appointment(staff[user_id], long_ago) if user_id in staff else None

    propose("user:usr_cleo")
    stack.payouts.four_eyes = FourEyes(appointments=appointment)
    with pytest.raises(Conflict, match="proposed again since"):
        stack.payouts.approve_receipt_correction(payout_id, by="user:usr_dan", receipt=right)
    after = stack.payouts.get_payout(payout_id)
    assert after.receipt == MISTYPED and after.correction is not None and after.correction.by == "user:usr_eve"
