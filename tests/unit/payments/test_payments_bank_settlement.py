"""Bank settlements: M-Pesa B2B to the bank's paybill, or a bank transfer from the bank file confirmed by an operator."""

from datetime import UTC, datetime

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.identity.merchants import check_settlement
from cryptopay.core.mobile_money import B2BCommand
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.payouts.bank_file import bank_file_csv
from cryptopay.core.payouts.service import SamePerson
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule, SettlementState
from cryptopay.core.settlement.banks import bank_catalogue, parse_bank_catalogue
from cryptopay.core.testing import daraja_payloads
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.payments_stack import PaymentsStack

AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi


def bank_merchant(destination: str, usdt: str = "100") -> tuple[PaymentsStack, list[Payout]]:
    """A daily merchant settled to ``destination`` (a bank account), paid ``usdt`` and settled after the cut-off."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.BANK, destination)
    stack.add_merchant("m1", settlement=profile)
    invoice = stack.invoicing.create_invoice("m1", Money.of(usdt, USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    assert run.settlement is not None, run.reason
    return stack, list(run.payouts)


def test_a_bank_with_a_paybill_is_paid_by_b2b_with_the_account_as_reference() -> None:
    """Equity: BusinessPayBill to 247247, AccountReference = the account number; the success completes it."""
    stack, [payout] = bank_merchant("EQUITY:0170123456789")
    assert payout.b2b is not None and payout.b2b.command is B2BCommand.PAYBILL
    assert (payout.b2b.party, payout.b2b.account_reference, payout.originator_id) == ("247247", "0170123456789", None)
    [sent] = stack.payouts.submit_payouts()
    assert sent.state is PayoutState.SUBMITTED and sent.originator_id  # M-Pesa's id, from its acknowledgement
    [tx] = stack.mpesa.transactions()
    assert (tx.product, tx.counterparty, tx.account_reference) == ("b2b", "247247", "0170123456789")
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED and done.receipt == tx.receipt
    assert stack.balance(flows.FLOAT) == Money.of("-12805", KES)
    with stack.uow() as uow:
        assert uow.settlements.get(payout.settlement_id).state is SettlementState.COMPLETED  # type: ignore[union-attr]
    assert stack.books_balanced()


def test_a_large_bank_settlement_is_cut_to_b2b_sizes() -> None:
    """KES 512,226 to a bank paybill: parts of at most 250,000, no two alike (no per-recipient daily limit)."""
    _, payouts = bank_merchant("KCB:1234567890", usdt="4000")
    amounts = [p.amount for p in payouts]
    assert amounts[0] == Money.of("250000", KES) and all(a <= Money.of("250000", KES) for a in amounts)
    assert len(set(amounts)) == len(amounts) and sum(amounts, Money.zero(KES)) == Money.of("512226", KES)


def test_a_b2b_success_naming_another_account_completes_nothing() -> None:
    """The right paybill but another account reference: the payout is unknown until Transaction Status decides."""
    stack, _ = bank_merchant("EQUITY:0170123456789")
    [sent] = stack.payouts.submit_payouts()
    [delivery] = stack.mpesa.outbox
    stack.mpesa.outbox.clear()
    [tx] = stack.mpesa.transactions()
    forged = daraja_payloads.b2b_result(
        tx.reference, tx.conversation_id, "SBX999", sent.amount, "247247", AFTER_CUTOFF, "0170999999999"
    )
    after = stack.deliver(delivery.url, forged)
    assert after is not None and after.state is PayoutState.UNKNOWN and "account reference" in (after.note or "")
    assert stack.balance(flows.FLOAT).is_zero()


def test_a_lost_b2b_result_is_settled_by_a_status_query_never_sent_twice() -> None:
    """No result by the deadline: Transaction Status by M-Pesa's originator id completes it; one B2B request only."""
    stack, _ = bank_merchant("EQUITY:0170123456789")
    stack.payouts.submit_payouts()
    stack.mpesa.outbox.clear()  # the result is lost
    stack.tick(minutes=3)
    [asked] = stack.payouts.query_stale_payouts()
    assert asked.state is PayoutState.UNKNOWN
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED
    assert stack.payouts.submit_payouts() == [] and len(stack.mpesa.transactions()) == 1
    assert stack.books_balanced()


def test_a_failed_b2b_releases_the_hold() -> None:
    """M-Pesa refuses (insufficient funds): the hold is voided and the shillings are the merchant's again."""
    stack, [payout] = bank_merchant("EQUITY:0170123456789")
    stack.mpesa.set_scenario("247247", Scenario.INSUFFICIENT_FUNDS)
    stack.payouts.submit_payouts()
    [failed] = stack.deliver_callbacks()
    assert failed is not None and failed.state is PayoutState.FAILED
    assert stack.ledger.balance(flows.merchant_liability("m1", KES)).available >= payout.amount


def test_a_bank_without_a_paybill_waits_for_an_operator_and_is_never_sent_to_mpesa() -> None:
    """Citibank has no paybill: one transfer awaiting an operator; the payouts job and status queries skip it."""
    stack, [payout] = bank_merchant("CITI:12345678")
    assert payout.is_bank_transfer and payout.state is PayoutState.SUBMITTED and payout.check_at is None
    assert stack.payouts.submit_payouts() == []
    stack.tick(hours=3)
    assert stack.payouts.follow_up_payouts() == [] and stack.mpesa.transactions() == []


def confirm(stack: PaymentsStack, payout_id: str, reference: str) -> Payout:
    """Two officers confirm a bank transfer: one proposes the bank's reference, a second approves it."""
    stack.payouts.propose_bank_confirmation(payout_id, reference=reference, note="", by="user:amina")
    return stack.payouts.approve_bank_confirmation(payout_id, by="user:baraka", reference=reference)


def test_the_bank_file_lists_transfers_and_two_officers_confirming_one_complete_it_from_the_bank_account() -> None:
    """The CSV names the bank and account; a proposed reference moves nothing; its approval by a second officer
    posts the hold and pays from assets:bank:KES, audited naming both (R10-7)."""
    stack, [payout] = bank_merchant("CITI:12345678")
    rows = stack.payouts.bank_file(actor="ops:amina")
    assert [p.id for p in rows] == [payout.id] and rows[0].exported_at == AFTER_CUTOFF
    text = bank_file_csv(rows)
    assert f"{payout.id},m1,CITI,Citibank N.A. Kenya,12345678,12805.00,KES," in text
    proposed = stack.payouts.propose_bank_confirmation(payout.id, reference="FT26005ABC", note="seen", by="user:amina")
    assert proposed.state is PayoutState.SUBMITTED and proposed.conclusion is not None
    assert "payout.completed" not in stack.topics()  # nothing moves on one officer's word
    done = stack.payouts.approve_bank_confirmation(payout.id, by="user:baraka", reference="FT26005ABC")
    assert done.state is PayoutState.COMPLETED and done.receipt == "FT26005ABC"
    assert stack.balance(flows.BANK) == Money.of("-12805", KES) and stack.balance(flows.FLOAT).is_zero()
    with pytest.raises(InvalidState):  # confirmed once: nothing is proposed any more
        stack.payouts.approve_bank_confirmation(payout.id, by="user:baraka", reference="FT26005ABC")
    records = stack.storage.audit_records()
    [confirmed] = [r for r in records if r.action == "payout.bank_confirmed"]
    assert confirmed.actor == "user:baraka" and dict(confirmed.details)["proposed_by"] == "user:amina"
    actions = [r.action for r in records]
    assert "payout.bank_confirmation_proposed" in actions and "payout.bank_file" in actions
    assert "payout.completed" in stack.topics() and stack.books_balanced()
    assert stack.payouts.bank_file(actor="ops:amina") == []


def test_the_proposer_cannot_approve_a_bank_confirmation() -> None:
    """Four-eyes: the officer who proposed the reference is refused as approver (same_officer), audited; nothing
    moves, and a declined proposal leaves the transfer awaiting a new one."""
    stack, [payout] = bank_merchant("CITI:12345678")
    stack.payouts.propose_bank_confirmation(payout.id, reference="FT1", note="", by="user:amina")
    with pytest.raises(SamePerson) as refused:
        stack.payouts.approve_bank_confirmation(payout.id, by="user:amina", reference="FT1")
    assert refused.value.code == "same_officer"
    assert "payout.conclusion_same_person_refused" in [r.action for r in stack.storage.audit_records()]
    assert (
        stack.payouts.get_payout(payout.id).state is PayoutState.SUBMITTED and "payout.completed" not in stack.topics()
    )
    stack.payouts.decline_conclusion(payout.id, by="user:baraka", note="wrong reference")
    assert stack.payouts.get_payout(payout.id).conclusion is None
    assert confirm(stack, payout.id, "FT2").receipt == "FT2"


def test_confirming_wrongly_is_refused_and_changes_nothing() -> None:
    """A bad reference, a second proposal, another reference than proposed, a confirmed transfer, an M-Pesa payout,
    an unknown id, a reference another payout was confirmed with: each refused."""
    stack, [payout] = bank_merchant("CITI:12345678")
    with pytest.raises(InvalidInput):
        stack.payouts.propose_bank_confirmation(payout.id, reference=" ", note="", by="user:a")
    with pytest.raises(InvalidInput):
        stack.payouts.propose_bank_confirmation(payout.id, reference="bad ref!", note="", by="user:a")
    with pytest.raises(NotFound):
        stack.payouts.propose_bank_confirmation("po_nope", reference="FT1", note="", by="user:a")
    stack.payouts.propose_bank_confirmation(payout.id, reference="FT1", note="", by="user:a")
    with pytest.raises(Conflict):
        stack.payouts.propose_bank_confirmation(payout.id, reference="FT9", note="", by="user:b")
    with pytest.raises(Conflict):  # the approver read another reference than is proposed
        stack.payouts.approve_bank_confirmation(payout.id, by="user:b", reference="FT9")
    stack.payouts.approve_bank_confirmation(payout.id, by="user:b", reference="FT1")
    with pytest.raises(Refused):
        stack.payouts.propose_bank_confirmation(payout.id, reference="FT2", note="", by="user:a")
    other, [b2b] = bank_merchant("EQUITY:0170123456789")
    with pytest.raises(Refused):
        other.payouts.propose_bank_confirmation(b2b.id, reference="FT3", note="", by="user:a")
    with other.uow() as uow:
        assert uow.payouts.get(b2b.id).state is PayoutState.PLANNED  # type: ignore[union-attr]


def test_one_bank_reference_confirms_one_transfer() -> None:
    """The reference another transfer was confirmed with is refused for a second one (one debit pays one payout)."""
    stack, [first] = bank_merchant("CITI:12345678")
    confirm(stack, first.id, "FT-26/005.A")
    invoice = stack.invoicing.create_invoice("m1", Money.of("50", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.tick(hours=24)
    [run] = stack.settling.run_settlements()
    [second] = run.payouts
    with pytest.raises(Conflict, match=r"bank reference FT-26/005\.A is payout"):
        stack.payouts.propose_bank_confirmation(second.id, reference="FT-26/005.A", note="", by="user:a")


def test_a_reference_differing_only_in_case_or_spaces_is_the_same_reference() -> None:
    """LASTREAD reader1 L-2: the bank (and the reconciliation) read ``FT26337ABC``, ``ft26337abc`` and
    ``FT 26337 ABC`` as one debit, so the payouts do too: the reference is kept canonical, an approver typing it in
    another case is reading the same one, and another transfer is refused it in any case or spacing."""
    stack, [first] = bank_merchant("CITI:12345678")
    proposed = stack.payouts.propose_bank_confirmation(first.id, reference="ft 26337abc", note="", by="user:amina")
    assert proposed.conclusion is not None and proposed.conclusion.receipt == "FT26337ABC"
    done = stack.payouts.approve_bank_confirmation(first.id, by="user:baraka", reference="FT26337abc")
    assert done.state is PayoutState.COMPLETED and done.receipt == "FT26337ABC"
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.tick(hours=24)
    [run] = stack.settling.run_settlements()
    [second] = run.payouts
    for typed in ("ft26337abc", "FT 26337 ABC", "Ft26337Abc"):
        with pytest.raises(Conflict, match=f"bank reference FT26337ABC is payout {first.id}"):
            stack.payouts.propose_bank_confirmation(second.id, reference=typed, note="", by="user:amina")
    kept = stack.payouts.get_payout(second.id)
    assert kept.state is PayoutState.SUBMITTED and kept.conclusion is None


def test_a_transfer_with_a_confirmation_proposed_is_not_in_the_next_bank_file() -> None:
    """LASTREAD reader1 L-3: an admin who proposes the bank's reference says the transfer left the bank already;
    while a second admin has yet to approve it, the next bank file (a bank's bulk upload) must not pay it again.
    Declined, it awaits a transfer again and is listed again."""
    stack, [payout] = bank_merchant("CITI:12345678")
    assert [p.id for p in stack.payouts.bank_file(actor="ops:amina")] == [payout.id]
    stack.payouts.propose_bank_confirmation(payout.id, reference="FT1", note="paid", by="user:amina")
    assert stack.payouts.bank_file(actor="ops:amina") == []
    assert [p.id for p in stack.payouts.awaiting_bank_transfer()] == [payout.id]  # the second admin still sees it
    stack.payouts.decline_conclusion(payout.id, by="user:baraka", note="no such debit")
    assert [p.id for p in stack.payouts.bank_file(actor="ops:amina")] == [payout.id]


def test_the_shell_cannot_confirm_a_bank_transfer() -> None:
    """``payouts confirm-bank`` is refused (audited), pointing to the two-officer flow on the API."""
    stack, [payout] = bank_merchant("CITI:12345678")
    with pytest.raises(Refused, match="bank-confirmation"):
        stack.payouts.refuse_from_shell(payout.id, by="ops:amina", step="confirm-bank")
    [refused] = [r for r in stack.storage.audit_records() if r.action == "payout.conclusion_refused"]
    assert dict(refused.details)["step"] == "confirm-bank"
    assert stack.payouts.get_payout(payout.id).state is PayoutState.SUBMITTED


def test_an_account_too_long_for_account_reference_goes_to_the_bank_file() -> None:
    """Co-op account numbers of 14 digits do not fit B2B's 13-character AccountReference: a bank transfer."""
    _, [payout] = bank_merchant("COOP:01109012345600")
    assert payout.is_bank_transfer


def test_the_catalogue_refuses_unknown_banks_and_bad_accounts() -> None:
    """Profiles name a catalogued bank and an account in its format; the data file itself is checked."""
    with pytest.raises(InvalidInput, match="unknown bank code"):
        bank_catalogue().route("NOPE:1234567890")
    with pytest.raises(InvalidInput, match="Equity Bank account number"):
        bank_catalogue().route("EQUITY:12")
    with pytest.raises(InvalidInput):
        check_settlement(SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.BANK, "kcb:123"))
    row = {"code": "X1", "name": "X", "paybill": "12", "account_pattern": ".*"}
    with pytest.raises(InvalidInput, match=r"malformed|bad bank"):
        parse_bank_catalogue({"version": 1, "effective_from": "2026-01-01", "banks": [row]})


def test_a_profile_names_the_bank_code_in_capitals() -> None:
    """``kcb:1234567890`` is stored as ``KCB:1234567890``."""
    checked = check_settlement(SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.BANK, "kcb:1234567890"))
    assert checked.destination == "KCB:1234567890"


def test_reconciliation_is_clean_after_b2b_and_bank_transfer_payouts() -> None:
    """A bank payout by B2B and one by transfer: receipts, results, holds and the trial balance all agree."""
    for destination in ("EQUITY:0170123456789", "CITI:12345678"):
        stack, [payout] = bank_merchant(destination)
        stack.payouts.submit_payouts()
        stack.deliver_callbacks()
        if payout.is_bank_transfer:
            confirm(stack, payout.id, "FT26005ABC")
        report = stack.reconciliation.reconcile()
        assert report.clean, report.by_check()
