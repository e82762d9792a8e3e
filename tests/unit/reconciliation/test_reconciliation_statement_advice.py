"""What ``mpesa-statement`` tells an operator to do about a payout not final in our books, for each state: a
statement proves a payout absent only once it covers the send and the unknown bound up to when it was read, and
only an ``unknown`` payout past the bound is concluded (by two admins); a proposal the statement contradicts is
declined, one it bears out awaits its second admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.payouts.model import Conclusion, ConclusionOutcome
from cryptopay.core.reconciliation import Records, Statement
from cryptopay.core.reconciliation.outside import statement_matches_payouts
from cryptopay.core.reconciliation.statement import StatementLine
from cryptopay.core.settlement import SettlementMethod

SENT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECEIPT = "SC21ABCD9Z"
DAY = (SENT.replace(hour=0), SENT.replace(hour=23, minute=59, second=59))  # a day's statement, "Time Period"


def payout(state: PayoutState, *, unknown_since: datetime | None = None, proposed: str | None = None) -> Payout:
    conclusion = None
    if proposed is not None:
        outcome = ConclusionOutcome(proposed)
        paid = RECEIPT if outcome is ConclusionOutcome.COMPLETED else None
        conclusion = Conclusion(outcome=outcome, receipt=paid, evidence="e", note="n", by="user:ann", at=SENT)
    return Payout(
        id="po_1",
        settlement_id="x_1",
        merchant_id="m1",
        originator_id="po_1",
        method=SettlementMethod.MPESA_B2C,
        destination="254712345678",
        amount=Money.of("1000", KES),
        charge=Money.zero(KES),
        hold_id="hld_1",
        created_at=SENT,
        state=state,
        submitted_at=SENT,
        unknown_since=unknown_since,
        conclusion=conclusion,
    )


def paid_line(receipt: str = RECEIPT) -> StatementLine:
    return StatementLine(
        receipt=receipt,
        completed_at=SENT + timedelta(seconds=20),
        status="Completed",
        reason_type="Business Payment",
        other_party="254712345678 - Jane",
        withdrawn=Money.of("1000", KES),
    )


def advice(p: Payout, at: datetime, *lines: StatementLine, period: tuple[datetime, datetime] = DAY) -> list[str]:
    statement = Statement(lines=lines, shortcode="600000", period=period)
    records = Records(
        invoices=(),
        credits=(),
        refunds=(),
        payouts=(p,),
        custody={},
        in_flight=None,
        float_balance=None,
        holds={},
        credit_entries={},
        trial_balance={},
        at=at,
        payout_statement=statement,
    )
    return [d.detail for d in statement_matches_payouts(records) if d.subject.startswith("payout po_1 (")]


def test_a_statement_read_within_the_bound_of_the_send_proves_nothing_whatever_period_it_says() -> None:
    """A day's statement read a minute after the send cannot show the payment absent: no difference, no advice."""
    assert advice(payout(PayoutState.SUBMITTED), SENT + timedelta(minutes=1)) == []
    assert advice(payout(PayoutState.UNKNOWN, unknown_since=SENT), SENT + timedelta(minutes=29)) == []


def test_an_absent_submitted_payout_is_asked_about_not_concluded() -> None:
    """Still awaiting its result: its result or Transaction Status decides; it is never 'conclude failed'."""
    [detail] = advice(payout(PayoutState.SUBMITTED), SENT + timedelta(hours=2))
    assert "still awaiting M-Pesa's result" in detail and "payouts query-stale" in detail
    assert "conclude failed" not in detail and "/conclusion" not in detail


def test_an_absent_payout_unknown_within_the_bound_says_when_it_may_be_concluded() -> None:
    """Unknown since 12:10 with a 30-minute bound, read at 12:35: Transaction Status still decides until 12:40."""
    [detail] = advice(
        payout(PayoutState.UNKNOWN, unknown_since=SENT + timedelta(minutes=10)), SENT + timedelta(minutes=35)
    )
    assert "M-Pesa shows no such payment so far: Transaction Status is still asked" in detail
    assert "past 2026-03-02T12:40:00+00:00 it is concluded failed" in detail and "two admins" not in detail


def test_an_absent_payout_unknown_past_the_bound_is_concluded_failed_by_two_admins() -> None:
    """Past the bound and nothing proposed: conclude failed, on the console or the API, two admins."""
    [detail] = advice(payout(PayoutState.UNKNOWN, unknown_since=SENT), SENT + timedelta(hours=2))
    assert "M-Pesa shows no such payment: conclude failed, two admins" in detail
    assert "/v1/admin/payouts/po_1/conclusion" in detail


@pytest.mark.parametrize(
    ("proposed", "said"),
    [
        ("failed", "the conclusion proposed (failed by user:ann) awaits a second admin"),
        ("completed", f"(completed with receipt {RECEIPT} by user:ann) is contradicted by the statement: decline it"),
    ],
)
def test_an_absent_payout_with_a_conclusion_proposed_says_whether_the_statement_bears_it_out(proposed, said) -> None:
    """A failure proposed awaits its approver; a completion proposed is contradicted and declined."""
    [detail] = advice(payout(PayoutState.UNKNOWN, unknown_since=SENT, proposed=proposed), SENT + timedelta(hours=2))
    assert said in detail


def test_a_paid_submitted_payout_is_completed_by_its_result_not_concluded() -> None:
    """M-Pesa paid a payout still awaiting its result: the result (or Transaction Status) completes it."""
    [detail] = advice(payout(PayoutState.SUBMITTED), SENT + timedelta(minutes=1), paid_line())
    assert "M-Pesa paid it: it is still awaiting M-Pesa's result" in detail
    assert f"concluded completed with receipt {RECEIPT}" in detail and "/conclusion" not in detail


@pytest.mark.parametrize(
    ("proposed", "said"),
    [
        (None, f"M-Pesa paid it: conclude completed with receipt {RECEIPT}, two admins"),
        ("completed", "the conclusion proposed (completed with receipt"),
        ("failed", "(failed by user:ann) is contradicted by the statement: decline it and conclude completed"),
    ],
)
def test_a_paid_payout_unknown_past_the_bound_says_what_its_proposal_needs(proposed, said) -> None:
    """Paid and unknown past the bound: conclude it completed, approve the completion proposed, or decline a failure."""
    p = payout(PayoutState.UNKNOWN, unknown_since=SENT, proposed=proposed)
    [detail] = advice(p, SENT + timedelta(hours=2), paid_line())
    assert said in detail
    if proposed == "completed":
        assert "awaits a second admin's approval" in detail


def test_a_paid_payout_unknown_within_the_bound_waits_for_transaction_status() -> None:
    """Paid, unknown for ten minutes: Transaction Status still decides; conclude only past the bound."""
    p = attrs.evolve(payout(PayoutState.UNKNOWN, unknown_since=SENT + timedelta(minutes=2)))
    [detail] = advice(p, SENT + timedelta(minutes=12), paid_line())
    assert "Transaction Status is still asked" in detail and "two admins" not in detail
