"""R10-4: M-Pesa's statement uploaded as a payout conclusion's evidence. It must be able to speak of the payout (its
period covers the send; for a failure, the bound after it up to when it is read), else a 422 on ``statement``; a
statement showing the opposite of the conclusion is a 409 ``statement_contradicts``; what it shows is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.payouts._conclusions import StatementContradicts, from_statement
from cryptopay.core.payouts.model import ConclusionOutcome, StatementEvidence
from cryptopay.core.reconciliation import Statement
from cryptopay.core.reconciliation.statement import StatementLine
from cryptopay.core.settlement import SettlementMethod

SENT = datetime(2026, 3, 2, 12, 0, 0, 250_000, tzinfo=UTC)
BOUND = timedelta(minutes=30)
DAY = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC))
LATER = SENT + timedelta(days=1)  # when the statement is read
FAILED, COMPLETED = ConclusionOutcome.FAILED, ConclusionOutcome.COMPLETED
PAYOUT = Payout(
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
    state=PayoutState.UNKNOWN,
    submitted_at=SENT,
    unknown_since=SENT,
)


def line(receipt: str = "SC21ABCD9Z", *, amount: str = "1000", party: str = "2547*****678", after: int = 20):
    return StatementLine(
        receipt=receipt,
        completed_at=SENT.replace(microsecond=0) + timedelta(seconds=after),
        status="Completed",
        reason_type="Business Payment",
        other_party=f"{party} - Jane",
        withdrawn=Money.of(amount, KES),
    )


def read(outcome, receipt, *lines, period=DAY, now=LATER) -> StatementEvidence:
    statement = Statement(lines=lines, shortcode="600000", period=period, digest="ab" * 32)
    return from_statement(PAYOUT, outcome, receipt, statement, BOUND, shortcode="600000", now=now)


def test_a_failure_is_shown_by_a_statement_covering_the_send_and_the_bound_with_no_payment_that_could_be_it() -> None:
    """Another payee's payment, or ours of another amount, is no payment of this payout: the failure stands, kept."""
    kept = read(FAILED, None, line("OTHER00001", party="254700000001"), line("OTHER00002", amount="999"))
    assert (kept.digest, kept.shortcode, kept.payments, kept.receipt) == ("ab" * 32, "600000", 2, None)
    assert (kept.covers_from, kept.covers_to) == DAY
    assert "no payment that could be this payout's" in kept.summary


def test_a_failure_the_statement_shows_paid_is_contradicted() -> None:
    """A payment of its amount to its party after its send: a 409, naming the receipt to conclude it with."""
    with pytest.raises(StatementContradicts, match="SC21ABCD9Z") as refused:
        read(FAILED, None, line())
    assert refused.value.code == "statement_contradicts" and refused.value.http_status == 409


@pytest.mark.parametrize(
    ("period", "now"),
    [
        ((SENT + timedelta(minutes=1), DAY[1]), LATER),  # starts after the send
        ((DAY[0], SENT - timedelta(minutes=1)), LATER),  # ends before it
        ((DAY[0], SENT + timedelta(minutes=10)), LATER),  # ends within the bound
        (DAY, SENT + timedelta(minutes=10)),  # a day's statement read ten minutes after the send
    ],
)
def test_a_failure_needs_a_statement_covering_the_send_and_the_bound_up_to_when_it_is_read(period, now) -> None:
    """A statement that cannot show the payment absent is a 422 on ``statement``, not a finding."""
    with pytest.raises(InvalidInput) as refused:
        read(FAILED, None, period=period, now=now)
    assert refused.value.details["field"] == "statement" and not isinstance(refused.value, StatementContradicts)


def test_a_completion_is_shown_by_its_payment_and_keeps_it() -> None:
    """The receipt's payment, the payout's amount and (masked) party after its send: kept with the proposal."""
    kept = read(COMPLETED, "SC21ABCD9Z", line(), line("OTHER00001", party="254700000001"))
    assert (kept.receipt, kept.paid, kept.payments) == ("SC21ABCD9Z", Money.of("1000", KES), 2)
    assert "receipt SC21ABCD9Z" in kept.summary


@pytest.mark.parametrize(
    "paid",
    [line(amount="999"), line(party="254700000001"), line(after=-60)],  # another amount, payee, or before the send
)
def test_a_completion_whose_payment_is_not_the_payouts_is_contradicted(paid: StatementLine) -> None:
    with pytest.raises(StatementContradicts):
        read(COMPLETED, "SC21ABCD9Z", paid)


def reversal(of: str = "SC21ABCD9Z", *, after: int = 300) -> StatementLine:
    """M-Pesa's ``Reversal`` of payment ``of``: its amount back into the account (a wrong number, a limit)."""
    return StatementLine(
        receipt="SC21REV001",
        completed_at=SENT.replace(microsecond=0) + timedelta(seconds=after),
        status="Completed",
        reason_type="Reversal",
        other_party="2547*****678 - Jane",
        paid_in=Money.of("1000", KES),
        linked_receipt=of,
    )


def test_a_payment_the_statement_shows_reversed_is_no_payment() -> None:
    """review13 R13-11: the payout's payment and, five minutes later, M-Pesa's reversal of it: concluding it
    completed is a 409 naming the reversal; failed is borne out, the payment and its reversal kept as the evidence.
    A reversal of another payment changes nothing."""
    with pytest.raises(StatementContradicts, match=r"reversed by M-Pesa \(SC21REV001, 1000.00 KES back") as refused:
        read(COMPLETED, "SC21ABCD9Z", line(), reversal())
    assert refused.value.code == "statement_contradicts"
    kept = read(FAILED, None, line(), reversal())
    assert (kept.receipt, kept.reversed_receipt, kept.reversal) == (None, "SC21ABCD9Z", "SC21REV001")
    assert "payment SC21ABCD9Z reversed by M-Pesa (SC21REV001 at 2026-03-02T12:05:00+00:00)" in kept.summary
    assert read(COMPLETED, "SC21ABCD9Z", line(), reversal("OTHER00001")).receipt == "SC21ABCD9Z"


def test_a_reversal_of_part_of_a_payment_undoes_none_of_it() -> None:
    """lastread L3-5: KES 1 reversed of a KES 1,000 payment: the payee kept 999, so the payment stands (completed is
    borne out; failed, which would credit all 1,000 back, is refused); two reversals making up the whole undo it."""
    small = attrs.evolve(reversal(), paid_in=Money.of("1", KES))
    assert read(COMPLETED, "SC21ABCD9Z", line(), small).receipt == "SC21ABCD9Z"
    with pytest.raises(StatementContradicts):
        read(FAILED, None, line(), small)
    rest = attrs.evolve(reversal(after=400), receipt="SC21REV002", paid_in=line().withdrawn - Money.of("1", KES))
    assert read(FAILED, None, line(), small, rest).reversed_receipt == "SC21ABCD9Z"
    with pytest.raises(StatementContradicts, match="may be this payout's"):
        read(FAILED, None, line(), reversal("OTHER00001"))


def test_a_completion_whose_receipt_is_absent_is_contradicted_only_by_a_statement_covering_the_bound() -> None:
    """Absent from a statement covering the bound: a 409; from one ending sooner: it may be later, a 422."""
    with pytest.raises(StatementContradicts):
        read(COMPLETED, "SC21ABCD9Z", line("OTHER00001", party="254700000001"))
    with pytest.raises(InvalidInput) as refused:
        read(COMPLETED, "SC21ABCD9Z", period=DAY, now=SENT + timedelta(minutes=5))
    assert not isinstance(refused.value, StatementContradicts)
    with pytest.raises(InvalidInput, match="not the payout's send"):  # a completion too needs the send covered
        read(COMPLETED, "SC21ABCD9Z", line(), period=(SENT + timedelta(seconds=5), DAY[1]))


def test_a_failure_whose_payment_is_booked_on_a_payout_it_does_not_match_is_contradicted() -> None:
    """reader2 L2-3: a row booked on another payout it could be is that payout's (the failure stands); one booked on
    a payout of another amount (a receipt named by a slip) may be this payout's: a 409 naming the other payout."""
    statement = Statement(lines=(line(),), shortcode="600000", period=DAY, digest="ab" * 32)
    twin = attrs.evolve(PAYOUT, id="po_2", originator_id="po_2", state=PayoutState.COMPLETED, receipt="SC21ABCD9Z")
    kept = from_statement(
        PAYOUT, FAILED, None, statement, BOUND, shortcode="600000", now=LATER, booked={"SC21ABCD9Z": twin}
    )
    assert kept.receipt is None
    wrong = attrs.evolve(twin, amount=Money.of("2500", KES))
    with pytest.raises(StatementContradicts, match="booked on payout po_2, which it does not match") as refused:
        from_statement(
            PAYOUT, FAILED, None, statement, BOUND, shortcode="600000", now=LATER, booked={"SC21ABCD9Z": wrong}
        )
    assert refused.value.code == "statement_contradicts"
