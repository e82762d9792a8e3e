"""A merchant's invoice paid from a listed blockchain address (an OFAC "Digital Currency Address"): the payment is
held, as a listed remittance payer is: booked into custody against ``liabilities:payments_held`` (never the
merchant's balance, so never settled nor refundable by the merchant; the invoice is not settled by it), audited ``invoice.payment_held``, with a
blocking ``sanctioned-address`` alert for the officers (the default rule set's, product ``merchant_payer``). A payer
not on the list is credited as before. An officer's decision on a held payment (``payments.held``): released to the
merchant as it would have been credited (fee included, then settled as any credit), returned to the paying address
through the refund machinery (refused while the address is listed), or kept for the authorities; the alerts closed
with the decision, the officer never one of the merchant's own, every decision audited and the books balanced."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from cryptopay.core import flows
from cryptopay.core.compliance.cases import AlertStatus, Case, CaseStatus
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Blocked, Monitoring
from cryptopay.core.compliance.own_party import OwnParty
from cryptopay.core.compliance.rules import default_rules
from cryptopay.core.compliance.screening import ListEntry, Screening
from cryptopay.core.compliance.screening_waits import ScreeningWaits
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.invoices.checkout import Phase, checkout_status
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.payments.model import DepositAddress, HoldDecision, PaymentCredit, RefundState
from cryptopay.core.ports.chains import TxState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.storage import InMemoryStorage

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LISTED = "TLsanctionedTronAddressXXXXXXXXXXX"
CLEAN = "TCleanCustomerAddressXXXXXXXXXXXXX"
PROFILE = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture
def stack() -> PaymentsStack:
    return with_lists(PaymentsStack(start=START))


ENTRY = ListEntry(ref="ofac:38", kind="individual", names=("BADGUY, Crypto",), addresses=(("tron", LISTED),))


def with_lists(stack: PaymentsStack, *, loaded: bool = True, required: bool = False) -> PaymentsStack:
    """The stack screening payers against a list naming ``LISTED`` (the default rule set's alerts), merchant m1;
    ``loaded=False``: no list imported yet; ``required``: ``CRYPTOPAY_SCREENING_REQUIRED``."""
    from cryptopay.adapters.sanctions import RapidfuzzMatcher

    lists = InMemoryStorage(**monitoring_repositories())
    screening = Screening(
        uow=lists.unit_of_work, matcher=RapidfuzzMatcher(), clock=stack.clock, ids=stack.ids, required=required
    )
    if loaded:
        screening.import_list("ofac_sdn", "test", [ENTRY], actor="operator:test")
    stack.monitoring = Monitoring(
        uow=stack.storage.unit_of_work,  # as wired: a held payment's decision concludes its alerts in its own work
        rules=default_rules(),
        clock=stack.clock,
        ids=stack.ids,
        screen=lambda m: screening.sanctioned_counterparty(m.network, m.counterparty),  # as wired
        screening=screening,
    )
    stack.monitor = MonitoringFeed(stack.monitoring)
    stack.screening = screening
    stack.wire_use_cases()
    stack.add_merchant("m1", settlement=PROFILE)
    return stack


def _paid_from(stack: PaymentsStack, sender: str) -> str:
    invoice = stack.invoicing.create_invoice("m1", Money.of("1300", KES))
    option = stack.invoice(invoice.id).options[0]
    stack.chains["tron"].pay(option.address, option.due, sender=sender)
    stack.confirm(3)
    return invoice.id


def test_a_payment_from_a_listed_address_is_held_never_credited_settled_or_refundable(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    option = stack.invoice(invoice_id).options[0]
    assert stack.balance(flows.merchant_liability("m1", USDT)) == Money.zero(USDT)
    assert stack.balance(flows.payments_held(USDT)) == option.due
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.blocking, alert.party_id) == ("sanctioned-address", True, "m1")
    assert (alert.evidence["counterparty"], alert.evidence["product"]) == (LISTED, "merchant_payer")
    with stack.uow() as uow:
        [held] = [
            dict(r.details) for r in uow.audit.about([f"invoice:{invoice_id}"]) if r.action == "invoice.payment_held"
        ]
        [credit] = uow.payment_credits.for_invoice(invoice_id)
    assert (held["reason"], held["address"], held["lists"], held["alerts"]) == (
        "sanctioned_payer",
        LISTED,
        "ofac:38",
        alert.id,
    )
    assert credit.held and credit.fee == Money.zero(USDT)
    with stack.monitoring.uow() as uow:  # never journaled as the merchant's payment (its turnover)
        assert uow.movements.for_party("m1", since=START) == []
    runs = stack.settling.run_settlements(merchant_id="m1")
    assert [r.settlement for r in runs] == [None] and stack.mpesa.transactions() == []
    stack.confirm(2)  # later steps hold it still and raise nothing again
    assert len(stack.monitoring.alerts()) == 1 and stack.balance(flows.merchant_liability("m1", USDT)).is_zero()
    assert stack.books_balanced()
    checks = stack.reconciliation.reconcile().by_check()
    assert (checks["custody"], checks["payments-credited"]) == (0, 0)
    # the invoice is not settled by it (nor the payment announced as confirmed), yet it reads as a payment still
    # confirming: never back to new, never expired nor invalid under it, no event tells the payer or the merchant
    # (review8 R5: it went processing -> new and expired unpaid)
    assert stack.invoice(invoice_id).state is InvoiceState.PROCESSING and stack.invoice(invoice_id).payments[0].held
    assert _invoice_topics(stack) == ["invoice.created", "invoice.payment_received", "invoice.processing"]
    stack.tick(minutes=20)
    stack.tick(hours=25)  # past the expiry and the monitoring window
    assert stack.invoice(invoice_id).state is InvoiceState.PROCESSING and stack.books_balanced()
    status = checkout_status(stack.invoice(invoice_id), option.rail.key, now=stack.clock.now())
    assert (status.phase, status.confirmations, status.required) == (
        Phase.SEEN,
        0,
        3,
    )  # as any payment not confirmed yet
    assert _invoice_topics(stack) == ["invoice.created", "invoice.payment_received", "invoice.processing"]
    with pytest.raises(Refused, match="refunds wait"):  # not the merchant's to refund: as any payment confirming
        stack.refunds.refundable(invoice_id, option.rail.key)


def _invoice_topics(stack: PaymentsStack) -> list[str]:
    return [t for t in stack.topics() if t.startswith("invoice.")]


def test_a_payment_from_an_address_not_listed_is_credited_as_before(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, CLEAN)
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_positive()
    assert stack.monitoring.alerts() == []
    with stack.uow() as uow:
        [credit] = uow.payment_credits.for_invoice(invoice_id)
    assert not credit.held


def test_a_held_payment_mined_again_after_a_reorg_is_held_again(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    dropped = stack.chains["tron"].reorg(4)  # the payment's block and the three after it
    stack.chains["tron"].mine()
    stack.sync()
    assert stack.balance(flows.payments_held(USDT)).is_zero() and stack.books_balanced()
    stack.chains["tron"].include(dropped[0])
    stack.confirm(3)
    with stack.uow() as uow:
        credits = uow.payment_credits.for_invoice(invoice_id)
    assert [(c.generation, c.held) for c in credits if c.reversal_entry_id is None] == [(1, True)]
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero() and stack.books_balanced()
    assert stack.balance(flows.payments_held(USDT)).is_positive()


OFFICER = "usr_ann"
SECOND = "usr_ben"  # four-eyes: the officer approving what OFFICER proposed


def _release(stack: PaymentsStack, credit_id: str, *, note: str) -> PaymentCredit:
    """A release proposed by OFFICER and approved by SECOND (four-eyes)."""
    stack.held_payments.release(credit_id, officer=OFFICER, note=note)
    return stack.held_payments.approve(credit_id, officer=SECOND)


def _return(stack: PaymentsStack, credit_id: str, *, note: str) -> PaymentCredit:
    """A return proposed by OFFICER and approved by SECOND (four-eyes)."""
    stack.held_payments.return_to_payer(credit_id, officer=OFFICER, note=note)
    return stack.held_payments.approve(credit_id, officer=SECOND)


def _held(stack: PaymentsStack, invoice_id: str) -> PaymentCredit:
    with stack.uow() as uow:
        [credit] = uow.payment_credits.for_invoice(invoice_id)
    return credit


def _decisions(stack: PaymentsStack, invoice_id: str) -> list[dict[str, str]]:
    return [
        {"action": r.action, "actor": r.actor, **dict(r.details)}
        for r in stack.storage.audit_records()
        if r.subject == f"invoice:{invoice_id}"
        and r.action.startswith("compliance.held_payment_")
        and not r.action.endswith("_proposed")  # the decisions, not the four-eyes proposals before them
    ]


def _case_of(stack: PaymentsStack, credit: PaymentCredit) -> Case:
    assert stack.monitoring is not None
    [alert_id] = credit.alerts
    [alert] = [a for a in stack.monitoring.alerts() if a.id == alert_id]
    assert alert.status is AlertStatus.IN_CASE and alert.case_id is not None
    return stack.monitoring.case(alert.case_id)


def test_a_released_payment_is_credited_as_it_would_have_been_and_settled(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    assert [c.id for c in stack.held_payments.waiting()] == [credit.id] and credit.alerts
    released = _release(stack, credit.id, note="the list's entry was removed on 3 March")
    gross = credit.received
    fee = stack.merchant_fee("USDT", "1").quote(gross).fee  # the store's 1 % merchant fee, as a credit takes it
    assert fee.is_positive()
    assert (released.decision, released.decided_by, released.fee) == (HoldDecision.RELEASED, SECOND, fee)
    assert released.proposal is None  # carried out: the proposal cleared
    assert stack.balance(flows.payments_held(USDT)).is_zero()
    assert stack.balance(flows.merchant_liability("m1", USDT)) == gross - fee
    assert stack.balance(flows.merchant_fee(USDT)) == fee
    assert stack.books_balanced() and stack.held_payments.waiting() == []
    checks = stack.reconciliation.reconcile().by_check()
    assert (checks["custody"], checks["payments-credited"]) == (0, 0)
    case = _case_of(stack, credit)
    assert case.status is CaseStatus.CLOSED_NO_ACTION and "removed on 3 March" in case.notes[-1].text
    [decision] = _decisions(stack, invoice_id)
    assert (decision["action"], decision["actor"], decision["credit"], decision["case" + "s"]) == (
        "compliance.held_payment_released",
        f"user:{SECOND}",
        credit.id,
        case.id,
    )
    assert decision["entry"] == released.release_entry_id and decision["fee"] == str(fee)
    assert decision["proposed_by"] == OFFICER and decision["note"] == "the list's entry was removed on 3 March"
    # the invoice is settled by it as it would have been, announced as any payment's confirmation
    assert stack.invoice(invoice_id).state is InvoiceState.SETTLED
    assert _invoice_topics(stack)[-2:] == ["invoice.payment_confirmed", "invoice.settled"]
    runs = stack.settling.run_settlements(merchant_id="m1")  # settlement then takes it as any credit
    assert [r.settlement is not None for r in runs] == [True]
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero() and stack.books_balanced()
    with pytest.raises(Conflict):  # decided once
        stack.held_payments.keep(credit.id, officer=OFFICER, note="again")


def test_a_kept_payment_stays_frozen_and_its_case_is_escalated_to_be_reported(stack: PaymentsStack) -> None:
    """Keeping money frozen is no STR filed: the case is escalated ("to be reported") and stays on the MLRO's list
    until the filing moves it to reported (review12 R12-8)."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    kept = stack.held_payments.keep(credit.id, officer=OFFICER, note="frozen for the FRC")
    assert kept.decision is HoldDecision.KEPT and stack.balance(flows.payments_held(USDT)) == credit.received
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero() and stack.books_balanced()
    assert _case_of(stack, credit).status is CaseStatus.ESCALATED
    assert [d["action"] for d in _decisions(stack, invoice_id)] == ["compliance.held_payment_kept"]
    for decide in (stack.held_payments.release, stack.held_payments.return_to_payer):
        with pytest.raises(Conflict):
            decide(credit.id, officer=OFFICER, note="changed my mind")
    assert stack.balance(flows.payments_held(USDT)) == credit.received
    # decided, the payment no longer counts: the invoice reads what the rest pays (nothing), and expires unpaid
    assert stack.invoice(invoice_id).state is InvoiceState.NEW
    stack.tick(minutes=20)
    assert stack.invoice(invoice_id).state is InvoiceState.EXPIRED and _invoice_topics(stack)[-1] == "invoice.expired"
    assert stack.books_balanced()


def test_a_return_to_a_listed_address_is_blocked_and_nothing_changes(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    with pytest.raises(Blocked):
        stack.held_payments.return_to_payer(credit.id, officer=OFFICER, note="send it back")
    assert _held(stack, invoice_id).decision is None and stack.held_payments.waiting() != []
    assert stack.balance(flows.payments_held(USDT)) == credit.received and stack.books_balanced()
    blocked = [r for r in stack.storage.audit_records() if r.action == "refund.blocked"]
    assert blocked and dict(blocked[-1].details)["address"] == LISTED
    assert stack.refunds.list_refunds(invoice_id) == [] and _decisions(stack, invoice_id) == []


def test_a_delisted_payer_is_returned_the_whole_payment_from_the_hold(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    stack.screening = None  # the list no longer names the address (delisted)
    stack.wire_use_cases()
    returned = _return(stack, credit.id, note="delisted: returned")
    [refund] = stack.refunds.list_refunds(invoice_id)
    assert (returned.decision, returned.refund_id) == (HoldDecision.RETURNED, refund.id)
    assert (refund.address, refund.amount) == (LISTED, credit.received)
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero()  # never the merchant's balance
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(refund.id, TxState.FAILED)
    stack.refunds.check_refunds()
    assert stack.refunds.get_refund(refund.id).state is RefundState.FAILED
    assert stack.balance(flows.payments_held(USDT)) == credit.received and stack.books_balanced()
    again = _return(stack, credit.id, note="the first return failed")
    assert again.refund_id != refund.id
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(again.refund_id or "", TxState.CONFIRMED)
    stack.refunds.check_refunds()
    assert stack.balance(flows.payments_held(USDT)).is_zero() and stack.books_balanced()
    assert _case_of(stack, credit).status is CaseStatus.CLOSED_NO_ACTION
    assert [d["action"] for d in _decisions(stack, invoice_id)] == ["compliance.held_payment_returned"] * 2


def test_no_decision_without_a_note_by_the_merchants_own_officer_or_on_another_credit(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    with pytest.raises(InvalidInput):
        stack.held_payments.release(credit.id, officer=OFFICER, note="  ")
    with pytest.raises(NotFound):
        stack.held_payments.release("crd_nope", officer=OFFICER, note="why")
    stack.held_payments = attrs.evolve(stack.held_payments, parties_of=lambda who: frozenset({who, "m1"}))
    with pytest.raises(OwnParty):
        stack.held_payments.release(credit.id, officer="usr_amina", note="mine")
    [refused] = [r for r in stack.storage.audit_records() if r.action == "compliance.own_party_refused"]
    assert (refused.actor, refused.subject, dict(refused.details)["credit"]) == (
        "user:usr_amina",
        f"invoice:{invoice_id}",
        credit.id,
    )
    assert _held(stack, invoice_id).decision is None and stack.balance(flows.payments_held(USDT)) == credit.received


def test_no_release_or_return_is_proposed_from_a_shell(stack: PaymentsStack) -> None:
    """revpass7 P4: a shell's ``--officer`` is typed, not proven, so one person could propose there in officer A's
    name and approve on the console as B. A proposal naming a shell operator is refused before anything is checked
    (a return to a listed address too), audited by the operator; nothing is proposed or moved."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    with pytest.raises(Refused, match="/console/held-payments"):
        stack.held_payments.release(credit.id, officer=OFFICER, note="false positive", operator="ops:kim")
    with pytest.raises(Refused, match=f"/v1/admin/compliance/held-payments/{credit.id}/return"):
        stack.held_payments.return_to_payer(credit.id, officer=OFFICER, note="delisted", operator="ops:kim")
    records = stack.storage.audit_records()
    refusals = [r for r in records if r.action == "compliance.held_payment_shell_proposal_refused"]
    assert [(r.actor, r.subject, dict(r.details)["proposal"], dict(r.details)["officer"]) for r in refusals] == [
        ("ops:kim", f"invoice:{invoice_id}", "released", OFFICER),
        ("ops:kim", f"invoice:{invoice_id}", "returned", OFFICER),
    ]
    assert not any(r.action.endswith("_proposed") or r.action == "refund.blocked" for r in records)
    held = _held(stack, invoice_id)
    assert (held.proposal, held.decision) == (None, None)
    assert stack.balance(flows.payments_held(USDT)) == credit.received


def test_a_released_payment_reorganised_away_is_taken_back_from_the_merchant(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    _release(stack, credit.id, note="false positive")
    stack.chains["tron"].reorg(4)
    stack.chains["tron"].mine()
    stack.sync()
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero()
    assert stack.balance(flows.payments_held(USDT)).is_zero() and stack.books_balanced()
    with pytest.raises(InvalidState):
        stack.held_payments.keep(credit.id, officer=OFFICER, note="gone")


def test_a_return_whose_payment_left_the_chain_before_it_was_sent_fails_and_sends_nothing(
    stack: PaymentsStack,
) -> None:
    """A held payment's return holds ``payments_held``, not the invoice's receipts: when the payment is reorganised
    away before the worker sends the return, the coins it would send are not in custody, so it fails (hold voided)."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    stack.screening = None  # delisted
    stack.wire_use_cases()
    returned = _return(stack, credit.id, note="delisted: returned")
    stack.chains["tron"].reorg(4)  # the payment's block and the three after it
    stack.chains["tron"].mine()
    stack.sync()
    [refund] = stack.refunds.send_refunds()
    assert refund.id == returned.refund_id and refund.state is RefundState.FAILED
    assert "left the chain" in (refund.failure or "")
    # the hold voided (nothing pending out of payments_held); the hold's reversal stays owed (as any clawback)
    assert stack.ledger.balance(flows.payments_held(USDT)).available == credit.received
    assert _held(stack, invoice_id).clawback_pending and stack.books_balanced()


def test_a_released_payment_is_the_merchants_to_refund_a_held_one_never(stack: PaymentsStack) -> None:
    """Released, a held payment is credited to the merchant as it would have been: its customer may be refunded from
    the merchant's balance as any payment's. Until then (or kept) it is not the merchant's to refund."""
    invoice_id = _paid_from(stack, LISTED)
    credit, option = _held(stack, invoice_id), stack.invoice(invoice_id).options[0]
    stack.tick(minutes=20)  # past the expiry: the invoice reads as confirming still, refunds wait as for any such
    with pytest.raises(Refused, match="refunds wait"):
        stack.refunds.refundable(invoice_id, option.rail.key)
    _release(stack, credit.id, note="false positive")
    assert stack.refunds.refundable(invoice_id, option.rail.key) == credit.received
    stack.screening = None  # the payer, delisted, asks for its money back
    stack.wire_use_cases()
    refund = stack.refunds.refund(invoice_id, address=LISTED, requested_by="user:u1", amount=Money.of("1", USDT))
    assert refund.amount == Money.of("1", USDT) and stack.books_balanced()
    net = credit.received - stack.merchant_fee("USDT", "1").quote(credit.received).fee
    assert stack.ledger.balance(flows.merchant_liability("m1", USDT)).available == net - Money.of("1", USDT)


def test_a_return_refused_for_want_of_a_hot_wallet_leaves_the_alerts_open_for_another_decision(
    stack: PaymentsStack,
) -> None:
    """Refused before anything is written: the alerts are not concluded ``closed_no_action`` for a return that never
    happened (the payment still held, an officer may keep it for the authorities)."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    stack.screening = None  # delisted
    stack.senders.pop("tron")  # no hot wallet on the payment's network
    stack.wire_use_cases()
    with pytest.raises(Refused):
        stack.held_payments.return_to_payer(credit.id, officer=OFFICER, note="send it back")
    assert stack.monitoring is not None
    assert [a.status for a in stack.monitoring.alerts() if a.id in credit.alerts] == [AlertStatus.OPEN]
    kept = stack.held_payments.keep(credit.id, officer=OFFICER, note="frozen for the FRC instead")
    assert kept.decision is HoldDecision.KEPT and _case_of(stack, credit).status is CaseStatus.ESCALATED


def test_a_return_whose_refund_failed_is_back_in_the_officers_queue(stack: PaymentsStack) -> None:
    """A return that failed leaves the payment held and undecided: listed again for a decision, not dropped from the
    queue while its coins sit in payments_held."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    stack.screening = None  # delisted
    stack.wire_use_cases()
    returned = _return(stack, credit.id, note="delisted: returned")
    assert stack.held_payments.waiting() == []
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(returned.refund_id or "", TxState.FAILED)
    stack.refunds.check_refunds()
    assert [c.id for c in stack.held_payments.waiting()] == [credit.id]
    assert _held(stack, invoice_id).refund_id == returned.refund_id  # the failed return stays named on it


def _refused_return_leaves_everything(stack: PaymentsStack, invoice_id: str, credit: PaymentCredit) -> None:
    """Nothing concluded, held, refunded or decided: the alerts still open for another decision."""
    assert stack.monitoring is not None
    assert [a.status for a in stack.monitoring.alerts() if a.id in credit.alerts] == [AlertStatus.OPEN]
    assert _held(stack, invoice_id).decision is None and [c.id for c in stack.held_payments.waiting()] == [credit.id]
    assert stack.balance(flows.payments_held(USDT)) == credit.received and stack.books_balanced()
    assert stack.refunds.list_refunds(invoice_id) == [] and _decisions(stack, invoice_id) == []


def test_a_return_to_one_of_the_platforms_addresses_is_refused_before_the_alerts_are_concluded(
    stack: PaymentsStack,
) -> None:
    """The payer is another invoice's deposit address (``InternalAddress``): refused with the alerts left open."""
    ours = "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"  # Tron-shaped, as a deriver's are (the fake chain's are not)
    with stack.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("tron", ours, 98, "inv_other", "m2", stack.clock.now()))
    assert stack.screening is not None
    entry = ListEntry(ref="ofac:39", kind="individual", names=("OTHER, Crypto",), addresses=(("tron", ours),))
    stack.screening.import_list("ofac_sdn", "test2", [entry], actor="operator:test")
    invoice_id = _paid_from(stack, ours)
    credit = _held(stack, invoice_id)
    stack.screening = None  # delisted
    stack.wire_use_cases()
    with pytest.raises(InternalAddress):
        stack.held_payments.return_to_payer(credit.id, officer=OFFICER, note="send it back")
    _refused_return_leaves_everything(stack, invoice_id, credit)


def test_a_return_through_no_option_of_the_invoice_is_a_clear_refusal_before_the_alerts_are_concluded(
    stack: PaymentsStack,
) -> None:
    """The invoice offers no option on the payment's rail any more: a 422 ``Refused``, never a StopIteration."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    stack.screening = None  # delisted
    stack.wire_use_cases()
    with stack.uow() as uow:
        invoice = uow.invoices.get(invoice_id)
        assert invoice is not None
        uow.invoices.update(attrs.evolve(invoice, options=()))
    with pytest.raises(Refused, match="offers no option") as refused:
        stack.held_payments.return_to_payer(credit.id, officer=OFFICER, note="send it back")
    assert refused.value.http_status == 422
    _refused_return_leaves_everything(stack, invoice_id, credit)


def test_a_release_is_carried_out_only_when_a_second_officer_approves_it(stack: PaymentsStack) -> None:
    """Four-eyes: a proposed release moves nothing and leaves the alerts open; its proposer cannot approve it (409
    ``same_officer``, audited), nor can a second proposal be made while it waits; a second officer carries it out."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    proposed = stack.held_payments.release(credit.id, officer=OFFICER, note="false positive: a namesake")
    assert (proposed.proposal, proposed.proposed_by, proposed.decision) == (HoldDecision.RELEASED, OFFICER, None)
    assert stack.balance(flows.payments_held(USDT)) == credit.received
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero() and stack.books_balanced()
    assert [c.proposal for c in stack.held_payments.waiting()] == [HoldDecision.RELEASED]  # still waiting
    assert stack.monitoring is not None
    assert [a.status for a in stack.monitoring.alerts() if a.id in credit.alerts] == [AlertStatus.OPEN]
    with pytest.raises(SameOfficer) as same:
        stack.held_payments.approve(credit.id, officer=OFFICER)
    assert (same.value.http_status, same.value.code) == (409, "same_officer")
    [refused] = [r for r in stack.storage.audit_records() if r.action.endswith("same_officer_refused")]
    assert (refused.actor, dict(refused.details)["credit"]) == (f"user:{OFFICER}", credit.id)
    with pytest.raises(Conflict):
        stack.held_payments.release(credit.id, officer=SECOND, note="a second proposal")
    assert _held(stack, invoice_id).decision is None
    released = stack.held_payments.approve(credit.id, officer=SECOND)
    assert (released.decision, released.decided_by, released.proposal) == (HoldDecision.RELEASED, SECOND, None)
    assert released.decision_note == "false positive: a namesake"
    assert stack.balance(flows.payments_held(USDT)).is_zero() and stack.books_balanced()
    actions = [r.action for r in stack.storage.audit_records() if r.subject == f"invoice:{invoice_id}"]
    assert actions[-3:] == [
        "compliance.held_payment_release_proposed",
        "compliance.held_payment_same_officer_refused",
        "compliance.held_payment_released",
    ]


def test_a_declined_proposal_moves_nothing_and_an_own_party_approver_is_refused(stack: PaymentsStack) -> None:
    """A second officer may decline a proposal (audited, nothing moves, another may then be proposed); nothing is
    approved without a proposal, nor by an officer of the merchant's own (``OwnParty``)."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    with pytest.raises(InvalidState):
        stack.held_payments.approve(credit.id, officer=SECOND)
    stack.held_payments.release(credit.id, officer=OFFICER, note="a namesake")
    with pytest.raises(InvalidInput):
        stack.held_payments.decline(credit.id, officer=SECOND, note=" ")
    declined = stack.held_payments.decline(credit.id, officer=SECOND, note="the match is strong: not a namesake")
    assert declined.proposal is None and declined.decision is None
    [record] = [r for r in stack.storage.audit_records() if r.action == "compliance.held_payment_proposal_declined"]
    assert (record.actor, dict(record.details)["proposed_by"]) == (f"user:{SECOND}", OFFICER)
    with pytest.raises(InvalidState):
        stack.held_payments.approve(credit.id, officer=SECOND)
    stack.held_payments.release(credit.id, officer=OFFICER, note="asked the list's publisher: delisted")
    stack.held_payments = attrs.evolve(stack.held_payments, parties_of=lambda who: frozenset({who, "m1"}))
    with pytest.raises(OwnParty):
        stack.held_payments.approve(credit.id, officer="usr_amina")
    assert _held(stack, invoice_id).decision is None and stack.balance(flows.payments_held(USDT)) == credit.received
    assert stack.books_balanced()


def test_an_approval_of_a_proposal_that_changed_meanwhile_is_refused(stack: PaymentsStack) -> None:
    """The approver approves what they read: an approval expecting a return while a release is proposed (the
    proposal withdrawn and made again meanwhile) is a 409 and nothing moves; expecting the release carries it out."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    stack.held_payments.release(credit.id, officer=OFFICER, note="a namesake")
    with pytest.raises(Conflict, match="read it again"):
        stack.held_payments.approve(credit.id, officer=SECOND, expected=HoldDecision.RETURNED)
    assert _held(stack, invoice_id).decision is None and stack.balance(flows.payments_held(USDT)) == credit.received
    done = stack.held_payments.approve(credit.id, officer=SECOND, expected=HoldDecision.RELEASED)
    assert done.decision is HoldDecision.RELEASED


def test_an_approval_refused_because_the_proposal_changed_concludes_nothing(stack: PaymentsStack) -> None:
    """revpass6 P4: the proposal withdrawn and proposed again between the approver's read and the booking is a 409
    and nothing is concluded with it (the alerts stay open, no case, nothing audited), so ``keep`` is still open
    to an officer afterwards; the decision and its conclusion are one unit of work."""
    invoice_id = _paid_from(stack, LISTED)
    credit = _held(stack, invoice_id)
    stack.held_payments.release(credit.id, officer=OFFICER, note="a namesake")
    held, monitoring = stack.held_payments, stack.held_payments.monitoring

    def proposed_again_meanwhile() -> Monitoring | None:  # as another officer's requests land mid-approval
        held.decline(credit.id, officer=OFFICER, note="withdrawn: wrong evidence attached")
        held.release(credit.id, officer="usr_third", note="a namesake, with the right evidence")
        return monitoring()

    stack.held_payments = attrs.evolve(held, monitoring=proposed_again_meanwhile)
    with pytest.raises(Conflict, match="changed meanwhile"):
        stack.held_payments.approve(credit.id, officer=SECOND, expected=HoldDecision.RELEASED)
    assert stack.monitoring is not None
    assert [a.status for a in stack.monitoring.alerts() if a.id in credit.alerts] == [AlertStatus.OPEN]
    assert stack.monitoring.cases() == []
    assert not [r for r in stack.storage.audit_records() if r.action.startswith("compliance.case_")]
    assert _held(stack, invoice_id).decision is None and stack.balance(flows.payments_held(USDT)) == credit.received
    kept = held.keep(credit.id, officer=SECOND, note="the FRC asked us to hold it")
    assert kept.decision is HoldDecision.KEPT and _case_of(stack, credit).status is CaseStatus.ESCALATED


def test_with_no_sanctions_list_loaded_a_required_screening_holds_refunds_until_one_is() -> None:
    """R12-3: refunds asked while no list is loaded are held, not sent (``held``, audited once); the first run
    after an import screens each address: the clean one is sent, the listed one fails, its coins back."""
    stack = with_lists(PaymentsStack(start=START), loaded=False, required=True)
    invoice_id = _paid_from(stack, CLEAN)
    customer = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    clean = stack.refunds.refund(invoice_id, address=customer, requested_by="user:u1", amount=Money.of("1", USDT))
    listed = stack.refunds.refund(invoice_id, address=LISTED, requested_by="user:u1", amount=Money.of("2", USDT))
    for _ in range(2):
        held = stack.refunds.send_refunds()
        assert [(r.state, r.held) for r in held] == [(RefundState.REQUESTED, "screening_unavailable")] * 2
    assert stack.senders["tron"].sent == {}
    assert ScreeningWaits(refunds=stack.uow).count() == {"refund": 2}  # cryptopay_screening_waiting
    stack.screening.import_list("ofac_sdn", "test", [ENTRY], actor="operator:test")
    after = {r.id: r for r in stack.refunds.send_refunds()}
    assert (after[clean.id].state, after[clean.id].held) == (RefundState.SENT, None)
    assert (after[listed.id].state, after[listed.id].held) == (RefundState.FAILED, None)
    assert list(stack.senders["tron"].sent) == [clean.id] and stack.books_balanced()
    with stack.uow() as uow:
        actions = [r.action for r in uow.audit.records() if r.subject == f"refund:{listed.id}"]
    assert actions.count("refund.held") == 1 and {"refund.released", "refund.blocked"} <= set(actions)
