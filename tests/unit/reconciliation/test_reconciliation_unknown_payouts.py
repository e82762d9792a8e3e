"""R10-4: a payout M-Pesa may or may not have paid stays ``unknown``; reconciliation must say so, and two people
conclude it from M-Pesa's own record (its statement, a Transaction Status answer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.core.compliance.four_eyes import Appointment, FourEyes, RelatedOfficers
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, Refused
from cryptopay.core.mobile_money import OutcomeUnknown
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout, PayoutKind, PayoutState
from cryptopay.core.payouts.model import B2BTarget, ConclusionOutcome
from cryptopay.core.payouts.service import SamePerson, StatementAmbiguous, StatementContradicts
from cryptopay.core.reconciliation import Outside, Records, Report, Statement, parse_statement, render_statement
from cryptopay.core.reconciliation.books import unresolved_payouts
from cryptopay.core.reconciliation.outside import statement_matches_payouts
from cryptopay.core.reconciliation.statement import StatementLine
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.testing.payments_stack import PaymentsStack

PAYBILL = "888880#12345"
LOST = "254711000008"  # the fake M-Pesa pays, and posts no callback
FLOAT = Money.of("10000000", KES)  # the fake M-Pesa's opening float


def settled(method: SettlementMethod, destination: str) -> tuple[PaymentsStack, Payout]:
    stack = PaymentsStack()
    stack.add_merchant("m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, method, destination))
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    [run] = stack.settling.run_settlements()
    [payout] = run.payouts
    return stack, payout


def lost_b2b() -> tuple[PaymentsStack, Payout]:
    """The reproduction: the B2B request's connection dropped before Daraja took it, then 30 h of worker rounds."""
    stack, payout = settled(SettlementMethod.MPESA_PAYBILL, PAYBILL)
    real_b2b = stack.mpesa.b2b

    def lost(request: object, **kw: object) -> None:
        raise OutcomeUnknown("read timeout")

    stack.mpesa.b2b = lost  # type: ignore[method-assign,assignment]
    stack.payouts.submit_payouts()
    stack.mpesa.b2b = real_b2b  # type: ignore[method-assign]
    for _ in range(5):
        stack.clock.advance(hours=6)
        stack.payouts.query_stale_payouts()
        stack.deliver_callbacks()
        stack.payouts.report_overdue_payouts()
    return stack, stack.payouts.get_payout(payout.id)


def payout_statement(stack: PaymentsStack) -> Statement:
    return parse_statement(render_statement(statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode)))


def mpesa_says(stack: PaymentsStack) -> Outside:
    balance = stack.mpesa.float_balance + stack.mpesa.charges_paid
    return Outside(statement=payout_statement(stack), mpesa_balance=balance, float_baseline=FLOAT)


def found(report: Report, name: str) -> list[tuple[str, str, str, str]]:
    (result,) = [r for r in report.results if r.check.name == name]
    assert not result.skipped, result.skipped
    return [(d.subject, d.expected, d.actual, d.detail) for d in result.differences]


def test_an_unknown_b2b_payout_mpesa_never_got_is_a_difference_and_two_people_conclude_it_failed() -> None:
    stack, payout = lost_b2b()
    assert payout.state is PayoutState.UNKNOWN and payout.check_at is None  # parked: no id to query by
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert not report.clean  # R10-4: it was clean
    [(subject, _, actual, detail)] = found(report, "payouts-unresolved")
    assert subject == f"payout {payout.id} (unknown)" and actual.startswith("unknown since ")
    assert f"/v1/admin/payouts/{payout.id}/conclusion" in detail  # the shell proposes nothing (LASTREAD L-2)
    [(subject, _, actual, detail)] = found(report, "mpesa-statement")
    assert (subject, actual) == (f"payout {payout.id} (unknown)", "not on M-Pesa's statement")
    assert "M-Pesa shows no such payment: conclude failed, two admins" in detail

    statement = payout_statement(stack)
    with pytest.raises(InvalidInput):  # a failure has no receipt
        stack.payouts.propose_conclusion(
            payout.id, outcome=ConclusionOutcome.FAILED, receipt="ABC123XYZ", evidence="x", note="y", by="ops:ann"
        )
    proposed = stack.payouts.propose_conclusion(
        payout.id,
        outcome=ConclusionOutcome.FAILED,
        receipt=None,
        evidence="statement 2026-01-05.csv",
        note="not on the statement",
        by="ops:ann",
        statement=statement,
    )
    assert proposed.state is PayoutState.UNKNOWN and proposed.conclusion is not None
    assert "no payment that could be this payout's" in proposed.conclusion.evidence
    kept = proposed.conclusion.statement  # what the statement showed, kept with the proposal
    assert kept is not None and kept.digest == statement.digest and kept.receipt is None
    with pytest.raises(Conflict):
        stack.payouts.propose_conclusion(
            payout.id, outcome=ConclusionOutcome.FAILED, receipt=None, evidence="e", note="n", by="user:usr_bob"
        )
    with pytest.raises(SamePerson):
        stack.payouts.approve_conclusion(payout.id, by="ops:ann", outcome=ConclusionOutcome.FAILED, receipt=None)
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    done = stack.payouts.approve_conclusion(
        payout.id, by="user:usr_bob", outcome=ConclusionOutcome.FAILED, receipt=None
    )
    assert done.state is PayoutState.FAILED and done.result_code == "concluded"
    with pytest.raises(InvalidState):
        stack.payouts.approve_conclusion(payout.id, by="user:usr_cat", outcome=ConclusionOutcome.FAILED, receipt=None)
    actions = [e.action for e in stack.storage.audit_records() if e.subject == f"payout:{payout.id}"]
    assert "payout.conclusion_proposed" in actions and "payout.conclusion_same_person_refused" in actions
    assert "payout.concluded" in actions
    again = stack.payouts.retry_failed_payout(payout.id, actor="ops:ann")  # the money goes out again
    assert again.state is PayoutState.PLANNED and again.retry_of == payout.id
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert found(report, "payouts-unresolved") == [] and found(report, "mpesa-statement") == []
    assert stack.books_balanced()


def test_an_unknown_b2c_payout_mpesa_paid_says_its_receipt_and_is_concluded_completed() -> None:
    stack, payout = settled(SettlementMethod.MPESA_B2C, LOST)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()  # its status answers are lost too
    stack.clock.advance(hours=1)
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert [d[0] for d in found(report, "payouts-unresolved")] == [f"payout {payout.id} (unknown)"]
    paid = [d for d in found(report, "mpesa-statement") if d[2] == "paid by M-Pesa"]
    [line] = [x for x in payout_statement(stack).lines if x.is_payout]
    assert f"M-Pesa paid it: conclude completed with receipt {line.receipt}, two admins" in paid[0][3]

    statement = payout_statement(stack)
    with pytest.raises(StatementContradicts):  # the statement shows it paid: not a failure
        stack.payouts.propose_conclusion(
            payout.id,
            outcome=ConclusionOutcome.FAILED,
            receipt=None,
            evidence="e",
            note="n",
            by="ops:ann",
            statement=statement,
        )
    with pytest.raises(StatementContradicts):  # a receipt the statement covering the bound does not have
        stack.payouts.propose_conclusion(
            payout.id,
            outcome=ConclusionOutcome.COMPLETED,
            receipt="NOSUCH1234",
            evidence="e",
            note="n",
            by="ops:ann",
            statement=statement,
        )
    stack.payouts.propose_conclusion(  # typed in another case: M-Pesa's receipt all the same (R13-12)
        payout.id,
        outcome=ConclusionOutcome.COMPLETED,
        receipt=f" {line.receipt.lower()} ",
        evidence="statement",
        note="paid",
        by="user:usr_ann",
        statement=statement,
    )
    done = stack.payouts.approve_conclusion(
        payout.id, by="user:usr_bob", outcome=ConclusionOutcome.COMPLETED, receipt=line.receipt.lower()
    )
    assert (done.state, done.receipt, done.result_code) == (PayoutState.COMPLETED, line.receipt, "0")
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert report.clean, [(r.check.name, r.differences) for r in report.results if r.differences]


def test_a_payout_is_concluded_only_unknown_past_the_bound_and_a_proposal_can_be_declined() -> None:
    stack, payout = settled(SettlementMethod.MPESA_B2C, LOST)
    with pytest.raises(Refused):  # planned
        stack.payouts.propose_conclusion(
            payout.id, outcome=ConclusionOutcome.FAILED, receipt=None, evidence="e", note="n", by="ops:ann"
        )
    stack.payouts.submit_payouts()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    with pytest.raises(Refused):  # still within the bound: Transaction Status is still asked
        stack.payouts.propose_conclusion(
            payout.id, outcome=ConclusionOutcome.FAILED, receipt=None, evidence="e", note="n", by="ops:ann"
        )
    report = stack.reconciliation.reconcile()
    assert found(report, "payouts-unresolved") == []  # within the bound: not yet a difference
    stack.clock.advance(hours=1)
    assert [p.id for p in stack.payouts.unresolved()] == [payout.id]
    with pytest.raises(InvalidInput):
        stack.payouts.propose_conclusion(
            payout.id, outcome=ConclusionOutcome.FAILED, receipt=None, evidence=" ", note="n", by="ops:ann"
        )
    stack.payouts.propose_conclusion(
        payout.id, outcome=ConclusionOutcome.FAILED, receipt=None, evidence="e", note="n", by="ops:ann"
    )
    declined = stack.payouts.decline_conclusion(payout.id, by="user:usr_bob", note="the statement shows it")
    assert declined.conclusion is None and declined.state is PayoutState.UNKNOWN
    with pytest.raises(InvalidState):
        stack.payouts.approve_conclusion(payout.id, by="user:usr_bob", outcome=ConclusionOutcome.FAILED, receipt=None)


def paid_but_unknown() -> tuple[PaymentsStack, Payout]:
    """A B2C payout M-Pesa paid whose every answer was lost: unknown for an hour."""
    stack, payout = settled(SettlementMethod.MPESA_B2C, LOST)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()
    stack.clock.advance(hours=1)
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    return stack, payout


def test_an_approval_carries_out_only_the_conclusion_the_approver_read() -> None:
    """LASTREAD L-1: ann proposes completed (receipt), bob reads it, ann withdraws it and proposes failed; bob's
    approval of what he read must not void the hold (retry would pay M-Pesa's paid payout a second time)."""
    stack, payout = paid_but_unknown()
    [line] = [x for x in payout_statement(stack).lines if x.is_payout]
    stack.payouts.propose_conclusion(
        payout.id,
        outcome=ConclusionOutcome.COMPLETED,
        receipt=line.receipt,
        evidence="statement",
        note="paid",
        by="user:usr_ann",
    )
    seen = stack.payouts.get_payout(payout.id).conclusion  # what bob reads
    assert seen is not None and seen.outcome is ConclusionOutcome.COMPLETED
    stack.payouts.decline_conclusion(payout.id, by="user:usr_ann", note="withdrawn")
    stack.payouts.propose_conclusion(
        payout.id, outcome=ConclusionOutcome.FAILED, receipt=None, evidence="trust me", note="n", by="user:usr_ann"
    )
    with pytest.raises(Conflict):
        stack.payouts.approve_conclusion(payout.id, by="user:usr_bob", outcome=seen.outcome, receipt=seen.receipt)
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN  # nothing voided, nothing to retry
    stack.payouts.decline_conclusion(payout.id, by="user:usr_bob", note="not what I read")
    stack.payouts.propose_conclusion(  # a receipt swapped after it was read is another conclusion too
        payout.id,
        outcome=ConclusionOutcome.COMPLETED,
        receipt="OTHER12345",
        evidence="statement",
        note="paid",
        by="user:usr_ann",
    )
    with pytest.raises(Conflict):
        stack.payouts.approve_conclusion(payout.id, by="user:usr_bob", outcome=seen.outcome, receipt=seen.receipt)
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    assert stack.books_balanced()


def test_an_approval_is_of_the_proposal_four_eyes_checked_not_one_proposed_again_meanwhile() -> None:
    """review13 R13-3: bob's four-eyes check reads ann's proposal; before his unit of work, ann withdraws it and cat,
    made staff by bob's own appointer, proposes the same outcome and receipt. The approval compares who proposed it
    and when under the payout's lock: a 409 and nothing moves; asked again, four-eyes refuses bob (related to cat)."""
    stack, payout = paid_but_unknown()
    [line] = [x for x in payout_statement(stack).lines if x.is_payout]
    completed = ConclusionOutcome.COMPLETED

    def propose(by: str) -> None:
        stack.payouts.propose_conclusion(
            payout.id, outcome=completed, receipt=line.receipt, evidence="statement", note="paid", by=by
        )

    long_ago = stack.clock.now() - timedelta(days=30)
    staff = {"usr_ann": "ops:hr", "usr_bob": "ops:root", "usr_cat": "ops:root"}
    meanwhile = []

    def appointment(user_id: str) -> Appointment | None:  # read by bob's four-eyes check, before his unit of work
        if not meanwhile:
            meanwhile.append(user_id)
            stack.payouts.decline_conclusion(payout.id, by="user:usr_ann", note="withdrawn")
            stack.clock.advance(seconds=1)
            propose("user:usr_cat")
        return Appointment(staff[user_id], long_ago) if user_id in staff else None

    propose("user:usr_ann")
    stack.payouts.four_eyes = FourEyes(appointments=appointment)
    with pytest.raises(Conflict, match="proposed again since you read it"):
        stack.payouts.approve_conclusion(payout.id, by="user:usr_bob", outcome=completed, receipt=line.receipt)
    now = stack.payouts.get_payout(payout.id)
    assert now.state is PayoutState.UNKNOWN and now.conclusion is not None and now.conclusion.by == "user:usr_cat"
    with pytest.raises(RelatedOfficers):
        stack.payouts.approve_conclusion(payout.id, by="user:usr_bob", outcome=completed, receipt=line.receipt)
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    assert stack.books_balanced()


@pytest.mark.parametrize("shortcode", ["600999", ""])
def test_a_failure_is_shown_only_by_our_payout_short_codes_statement(shortcode: str) -> None:
    """LASTREAD L-4: another Short Code's statement (or one naming none) has no payout lines, so it would "show"
    any payout absent: it is refused, as reconciliation refuses it (review6 F3), and nothing is proposed."""
    stack, payout = paid_but_unknown()
    mine = payout_statement(stack)
    other = attrs.evolve(mine, shortcode=shortcode, lines=tuple(x for x in mine.lines if not x.is_payout))
    with pytest.raises(InvalidInput, match="not of our payouts' Short Code"):
        stack.payouts.propose_conclusion(
            payout.id,
            outcome=ConclusionOutcome.FAILED,
            receipt=None,
            evidence="statement",
            note="absent",
            by="user:usr_ann",
            statement=other,
        )
    assert stack.payouts.get_payout(payout.id).conclusion is None


@pytest.mark.parametrize("typed", [str, str.lower, lambda r: f" {r.lower()}\t"])
def test_a_receipt_booked_on_another_payout_concludes_none(typed) -> None:
    """LASTREAD L-6: one M-Pesa receipt cannot close a second payout as paid (its payee would never be paid), in
    whatever case it is typed (review13 R13-12: ``sbx0000004`` completed a second payout)."""
    stack = PaymentsStack()
    for merchant, to in (("m1", LOST), ("m2", "254712345678")):
        profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, to)
        stack.add_merchant(merchant, settlement=profile)
        stack.pay(stack.invoicing.create_invoice(merchant, Money.of("100", USDT)).id)
    stack.confirm(3)
    payouts = {p.merchant_id: p for run in stack.settling.run_settlements() for p in run.payouts}
    payout, paid = payouts["m1"], payouts["m2"]
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()  # m2's result comes; m1's never does
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()  # its status answer is lost too
    stack.clock.advance(hours=1)
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    booked = stack.payouts.get_payout(paid.id)
    assert booked.state is PayoutState.COMPLETED and booked.receipt is not None
    with pytest.raises(Conflict, match="one payment pays one payout"):
        stack.payouts.propose_conclusion(
            payout.id,
            outcome=ConclusionOutcome.COMPLETED,
            receipt=typed(booked.receipt),
            evidence="Transaction Status said paid",
            note="paid",
            by="user:usr_ann",
        )
    assert stack.payouts.get_payout(payout.id).conclusion is None


AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KINDS = [
    (PayoutKind.SETTLEMENT, SettlementMethod.MPESA_B2C, "254712345678", None),
    (PayoutKind.SETTLEMENT, SettlementMethod.MPESA_PAYBILL, PAYBILL, B2BTarget.paybill("888880", "12345")),
    (PayoutKind.SETTLEMENT, SettlementMethod.MPESA_TILL, "5123456", B2BTarget.till("5123456")),
    (PayoutKind.SALE, SettlementMethod.MPESA_B2C, "254712345678", None),
    (PayoutKind.BILL, SettlementMethod.MPESA_PAYBILL, PAYBILL, B2BTarget.paybill("888880", "12345")),
    (PayoutKind.REMITTANCE, SettlementMethod.MPESA_B2C, "254712345678", None),
]


def records_of(payout: Payout, at: datetime, statement: Statement | None = None) -> Records:
    return Records(
        invoices=(),
        credits=(),
        refunds=(),
        payouts=(payout,),
        custody={},
        in_flight=None,
        float_balance=None,
        holds={},
        credit_entries={},
        trial_balance={},
        at=at,
        payout_statement=statement,
    )


def test_a_payment_the_statement_shows_reversed_is_advised_failed_and_a_failure_agrees() -> None:
    """review13 R13-11: an unknown payout's payment and M-Pesa's reversal of it on one statement: reconciliation
    advises concluding it failed (as the conclusion reads it), never completed; once failed, the pair is no
    difference and the totals leave it out (the money is back in the account)."""
    from tests.unit.reconciliation.test_conclusion_statement import PAYOUT, line, reversal

    covering = Statement(
        lines=(line(), reversal()),
        shortcode="600000",
        period=(PAYOUT.created_at - timedelta(hours=1), PAYOUT.created_at + timedelta(hours=2)),
    )
    at = PAYOUT.created_at + timedelta(hours=3)
    [told] = statement_matches_payouts(records_of(PAYOUT, at, covering))
    assert (told.subject, told.actual) == ("payout po_1 (unknown)", "paid by M-Pesa, then reversed")
    assert "M-Pesa reversed its payment (SC21REV001), so it paid nothing: conclude failed" in told.detail
    assert "conclude completed" not in told.detail
    failed = attrs.evolve(PAYOUT, state=PayoutState.FAILED, finished_at=at)
    assert statement_matches_payouts(records_of(failed, at, covering)) == []


@pytest.mark.parametrize(("kind", "method", "destination", "b2b"), KINDS)
@pytest.mark.parametrize("state", [PayoutState.UNKNOWN, PayoutState.SUBMITTED])
def test_every_payout_kind_not_final_past_the_bound_is_a_difference(kind, method, destination, b2b, state) -> None:
    payout = Payout(
        id="po_1",
        settlement_id="x_1",
        merchant_id="m1",
        originator_id=None,
        method=method,
        destination=destination,
        amount=Money.of("1000", KES),
        charge=Money.zero(KES),
        hold_id="hld_1",
        created_at=AT,
        b2b=b2b,
        kind=kind,
        state=state,
        submitted_at=AT,
        unknown_since=AT if state is PayoutState.UNKNOWN else None,
    )
    assert unresolved_payouts(records_of(payout, AT + timedelta(minutes=20))) == []
    [late] = unresolved_payouts(records_of(payout, AT + timedelta(minutes=40)))
    assert late.subject == f"payout po_1 ({state.value})" and kind.value in late.detail
    assert "254712345678" not in late.detail  # a phone is masked
    if state is PayoutState.SUBMITTED:  # LASTREAD L-3: only an unknown payout is concluded; this one is asked first
        assert "payouts query-stale" in late.detail and "/conclusion" not in late.detail
    else:
        assert "/v1/admin/payouts/po_1/conclusion" in late.detail
    covering = Statement(lines=(), shortcode="600000", period=(AT - timedelta(hours=1), AT + timedelta(hours=1)))
    [absent] = statement_matches_payouts(records_of(payout, AT + timedelta(hours=2), covering))
    assert absent.actual == "not on M-Pesa's statement"
    if state is PayoutState.SUBMITTED:  # asked about first, never concluded while submitted
        assert "still awaiting M-Pesa's result" in absent.detail and "conclude failed" not in absent.detail
    else:
        assert "M-Pesa shows no such payment: conclude failed" in absent.detail
    short = Statement(lines=(), shortcode="600000", period=(AT - timedelta(hours=1), AT + timedelta(minutes=10)))
    assert statement_matches_payouts(records_of(payout, AT + timedelta(hours=2), short)) == []  # too short to say
    bank = Payout(
        id="po_2",
        settlement_id="x_2",
        merchant_id="m1",
        originator_id=None,
        method=SettlementMethod.BANK,
        destination="CITI:123",
        amount=Money.of("1000", KES),
        charge=Money.zero(KES),
        hold_id="hld_2",
        created_at=AT,
        state=PayoutState.SUBMITTED,
        submitted_at=AT,
    )
    assert unresolved_payouts(records_of(bank, AT + timedelta(days=1))) == []  # an operator's, not M-Pesa's


# --- review12 R12-9: two unknown B2B payouts of one amount to one paybill, one of them paid ------------------------

ACCOUNT_A, ACCOUNT_B = "888880#111111", "888880#222222"


def two_b2b_one_paid() -> tuple[PaymentsStack, Payout, Payout]:
    """The reproduction: two merchants settled to KPLC's paybill for two accounts, one amount each. A's request never
    reaches M-Pesa; M-Pesa pays B's but its reply and its result are lost. 30 h of worker rounds: both unknown."""
    stack = PaymentsStack()
    for merchant, to in (("m1", ACCOUNT_A), ("m2", ACCOUNT_B)):
        profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_PAYBILL, to)
        stack.add_merchant(merchant, settlement=profile)
        stack.pay(stack.invoicing.create_invoice(merchant, Money.of("100", USDT)).id)
    stack.confirm(3)
    payouts = {p.destination: p for run in stack.settling.run_settlements() for p in run.payouts}
    a, b = payouts[ACCOUNT_A], payouts[ACCOUNT_B]
    assert a.amount == b.amount and a.party == b.party == "888880"
    real_b2b = stack.mpesa.b2b

    def flaky(request: object, **kw: object) -> object:
        if getattr(request, "account_reference", "") == "222222":  # M-Pesa takes and pays B's; the reply is lost
            real_b2b(request, **kw)  # type: ignore[arg-type]
        raise OutcomeUnknown("read timeout")

    stack.mpesa.b2b = flaky  # type: ignore[method-assign,assignment]
    stack.payouts.submit_payouts()
    stack.mpesa.b2b = real_b2b  # type: ignore[method-assign]
    stack.mpesa.outbox[:] = []  # B's result callback is lost too
    for _ in range(5):
        stack.clock.advance(hours=6)
        stack.payouts.query_stale_payouts()
        stack.payouts.report_overdue_payouts()
    a, b = stack.payouts.get_payout(a.id), stack.payouts.get_payout(b.id)
    assert a.state is b.state is PayoutState.UNKNOWN
    return stack, a, b


def without_accounts(statement: Statement) -> Statement:
    """The statement as an export with no account number on its B2B rows (no ``A/C No.``, none in Details)."""
    rows = tuple(attrs.evolve(line, account_no="") if line.is_payout else line for line in statement.lines)
    return parse_statement(render_statement(attrs.evolve(statement, lines=rows)))


def propose(stack: PaymentsStack, payout: Payout, statement: Statement | None, receipt: str | None) -> Payout:
    outcome = ConclusionOutcome.COMPLETED if receipt else ConclusionOutcome.FAILED
    return stack.payouts.propose_conclusion(
        payout.id,
        outcome=outcome,
        receipt=receipt,
        evidence="M-Pesa's record" if statement is None else "",
        note="per reconcile",
        by="user:usr_ann",
        statement=statement,
    )


def approve(stack: PaymentsStack, payout: Payout, receipt: str | None) -> Payout:
    outcome = ConclusionOutcome.COMPLETED if receipt else ConclusionOutcome.FAILED
    return stack.payouts.approve_conclusion(payout.id, by="user:usr_bob", outcome=outcome, receipt=receipt)


@pytest.mark.parametrize("shown", ["A/C No.", "Details"])
def test_two_b2b_payouts_of_one_amount_to_one_paybill_are_told_apart_by_the_rows_account(shown: str) -> None:
    """R12-9: the row's account (``A/C No.``, as the simulators now write it, or ``Acc. <account>`` ending its
    Details) names the payout M-Pesa paid: the advice is right for both, and following it pays no one twice."""
    stack, a, b = two_b2b_one_paid()
    statement = payout_statement(stack)
    [row] = [line for line in statement.lines if line.is_payout]
    assert row.account_no == "222222"  # the simulator writes the B2B row's account, as M-Pesa does
    if shown == "Details":
        moved = attrs.evolve(row, account_no="", details=f"Business Pay Bill to 888880 - KPLC PREPAID Acc. {222222}")
        statement = parse_statement(render_statement(attrs.evolve(statement, lines=(moved,))))
    outside = attrs.evolve(mpesa_says(stack), statement=statement)
    diffs = found(stack.reconciliation.reconcile(outside), "mpesa-statement")
    by_subject = {d[0]: d for d in diffs}
    paid, absent = by_subject[f"payout {b.id} (unknown)"], by_subject[f"payout {a.id} (unknown)"]
    assert paid[2] == "paid by M-Pesa" and f"conclude completed with receipt {row.receipt}" in paid[3]
    assert absent[2] == "not on M-Pesa's statement" and "conclude failed" in absent[3]

    with pytest.raises(StatementContradicts, match="account 222222"):  # the reviewer's wrong advice, refused
        propose(stack, a, statement, row.receipt)
    propose(stack, a, statement, None)
    propose(stack, b, statement, row.receipt)
    assert approve(stack, a, None).state is PayoutState.FAILED
    done = approve(stack, b, row.receipt)
    assert (done.state, done.receipt) == (PayoutState.COMPLETED, row.receipt)
    report = stack.reconciliation.reconcile(outside)
    assert found(report, "mpesa-statement") == [] and found(report, "payouts-unresolved") == []
    assert stack.books_balanced()


def test_a_row_two_open_payouts_could_equally_be_is_ambiguous_and_concludes_neither() -> None:
    """R12-9: with no account number on its row, the payment could be either payout's: reconciliation names both
    and advises no conclusion (it advised "the oldest" completed and the paid one failed), and a statement naming it
    concludes neither completed (409 ``statement_ambiguous``) nor either failed. Concluded from M-Pesa's record of
    the payment (its account), the row is then the paid one's and the other's absence shows."""
    stack, a, b = two_b2b_one_paid()
    statement = without_accounts(payout_statement(stack))
    [row] = [line for line in statement.lines if line.is_payout]
    outside = attrs.evolve(mpesa_says(stack), statement=statement)
    [(subject, expected, actual, detail)] = [
        d for d in found(stack.reconciliation.reconcile(outside), "mpesa-statement") if not d[0].startswith("assets:")
    ]  # neither is shown absent ("conclude failed"), neither paid; the float's total is off by the payment
    assert (subject, expected) == (f"receipt {row.receipt}", "one payout of ours")
    assert actual == f"ambiguous: payouts {a.id} (unknown), {b.id} (unknown)"
    assert "conclude none of them" in detail and "conclude completed" not in detail

    for payout, rival in ((a, b), (b, a)):
        with pytest.raises(StatementAmbiguous, match=rival.id) as refused:
            propose(stack, payout, statement, row.receipt)
        assert refused.value.code == "statement_ambiguous" and refused.value.http_status == 409
        with pytest.raises(StatementContradicts, match=row.receipt):  # it may be this one's: not a failure either
            propose(stack, payout, statement, None)
        assert stack.payouts.get_payout(payout.id).conclusion is None

    propose(stack, b, None, row.receipt)  # M-Pesa's record of the payment names account 222222
    approve(stack, b, row.receipt)
    diffs = found(stack.reconciliation.reconcile(outside), "mpesa-statement")
    [(subject, _, actual, detail)] = [d for d in diffs if not d[0].startswith("assets:")]
    assert (subject, actual) == (f"payout {a.id} (unknown)", "not on M-Pesa's statement")
    assert "conclude failed" in detail
    propose(stack, a, statement, None)  # the row is B's (its receipt booked): no sign A was paid
    assert approve(stack, a, None).state is PayoutState.FAILED
    report = stack.reconciliation.reconcile(outside)
    assert found(report, "mpesa-statement") == [] and found(report, "payouts-unresolved") == []
    assert stack.books_balanced()


def b2b_payout(pid: str, state: PayoutState, account: str, *, sent: datetime, receipt: str | None = None) -> Payout:
    return Payout(
        id=pid,
        settlement_id=f"x_{pid}",
        merchant_id="m1",
        originator_id=None,
        method=SettlementMethod.MPESA_PAYBILL,
        destination=f"888880#{account}",
        amount=Money.of("1000", KES),
        charge=Money.zero(KES),
        hold_id=f"hld_{pid}",
        created_at=sent,
        b2b=B2BTarget.paybill("888880", account),
        state=state,
        submitted_at=sent,
        unknown_since=sent if state is PayoutState.UNKNOWN else None,
        receipt=receipt,
    )


def pay_bill_row(receipt: str, at: datetime, account: str = "") -> StatementLine:
    return StatementLine(
        receipt=receipt,
        completed_at=at,
        status="Completed",
        reason_type="Business Pay Bill",
        other_party="888880 - KPLC PREPAID",
        withdrawn=Money.of("1000", KES),
        account_no=account,
    )


def test_a_row_is_the_open_payouts_before_a_failed_ones_and_a_paid_account_is_compared() -> None:
    """R12-9: a failed payout and its retry (one amount, one paybill and account) are not "ambiguous" for a payment
    after the retry's send: M-Pesa may still pay the open one, it said it did not pay the failed one; a payment
    booked on a payout whose row names another account is a difference (M-Pesa paid another account)."""
    failed = b2b_payout("po_1", PayoutState.FAILED, "12345", sent=AT)
    retry = b2b_payout("po_2", PayoutState.UNKNOWN, "12345", sent=AT + timedelta(hours=1))
    done = b2b_payout("po_3", PayoutState.COMPLETED, "555", sent=AT + timedelta(hours=1), receipt="SBXDONE01")
    rows = (
        pay_bill_row("SBXPAID01", AT + timedelta(hours=1)),
        pay_bill_row("SBXDONE01", AT + timedelta(hours=1), "556"),
    )
    statement = Statement(lines=rows, shortcode="600000", period=(AT, AT + timedelta(hours=3)))
    records = attrs.evolve(records_of(retry, AT + timedelta(hours=3), statement), payouts=(failed, retry, done))
    found_ = {(d.subject, d.actual): d for d in statement_matches_payouts(records)}
    assert ("payout po_2 (unknown)", "paid by M-Pesa") in found_  # the retry, not "the oldest" failed one
    assert "conclude completed with receipt SBXPAID01" in found_["payout po_2 (unknown)", "paid by M-Pesa"].detail
    assert not any("ambiguous" in actual for _, actual in found_)
    other = found_["payout po_3 (completed)", "for account '556'"]
    assert other.expected == "for account '555'"


def test_a_failed_payout_paid_after_its_retrys_row_is_named() -> None:
    """reader2 L2-1: the retry's row takes the open retry; a second row M-Pesa paid after (the failed original paid
    after all) is the untaken failed payout's, named, not "none in our books"."""
    failed = b2b_payout("po_1", PayoutState.FAILED, "12345", sent=AT)
    retry = b2b_payout("po_2", PayoutState.UNKNOWN, "12345", sent=AT + timedelta(hours=1))
    rows = (
        pay_bill_row("SBXRETRY1", AT + timedelta(hours=1, minutes=1)),
        pay_bill_row("SBXORIG01", AT + timedelta(hours=1, minutes=2)),
    )
    statement = Statement(lines=rows, shortcode="600000", period=(AT, AT + timedelta(hours=3)))
    records = attrs.evolve(records_of(retry, AT + timedelta(hours=3), statement), payouts=(failed, retry))
    found_ = {(d.subject, d.actual): d for d in statement_matches_payouts(records)}
    assert "SBXRETRY1" in found_["payout po_2 (unknown)", "paid by M-Pesa"].detail
    assert "SBXORIG01" in found_["payout po_1 (failed)", "paid by M-Pesa"].detail
    assert not any(subject.startswith("receipt ") for subject, _ in found_)


def test_a_row_booked_on_a_payout_it_does_not_match_advises_no_failure_of_the_payout_it_could_be() -> None:
    """reader2 L2-3: a receipt booked by a slip on a payout of another amount and account: its row, showing another
    open payout's amount and account, is reported as possibly that payout's, and "conclude failed" is not advised."""
    open_ = b2b_payout("po_1", PayoutState.UNKNOWN, "12345", sent=AT)
    wrong = attrs.evolve(
        b2b_payout("po_9", PayoutState.COMPLETED, "99999", sent=AT - timedelta(minutes=5), receipt="SBXPAID01"),
        amount=Money.of("2500", KES),
    )
    row = pay_bill_row("SBXPAID01", AT + timedelta(minutes=1), "12345")
    statement = Statement(lines=(row,), shortcode="600000", period=(AT - timedelta(hours=1), AT + timedelta(hours=3)))
    records = attrs.evolve(records_of(open_, AT + timedelta(hours=3), statement), payouts=(open_, wrong))
    found_ = statement_matches_payouts(records)
    mine = [d for d in found_ if d.subject == "payout po_1 (unknown)"]
    assert [d.actual for d in mine] == ["receipt SBXPAID01 could be its payment, booked on payout po_9"]
    assert "conclude failed" not in mine[0].detail and "do not conclude this payout failed" in mine[0].detail
    assert any(d.subject == "payout po_9 (completed)" for d in found_)  # its own mismatch is still reported
