"""Reading M-Pesa's statement as the evidence for concluding a payout whose outcome is unknown (R10-4).

The statement is of our payouts' Short Code and its period covers the payout's send (``InvalidInput``, field
``statement``, otherwise: it cannot speak of the payout). A completion must name a payment on it with the payout's
amount and receiving party (and, for a paybill payment whose row shows one, its account number), completed after the
send; a failure needs the statement to cover the send and the unknown bound after it, up to when it is read (a day's
statement read at noon shows nothing of the afternoon; a request M-Pesa took is paid within the bound), and to show
no payment that could be the payout's (``matching.could_pay``: its amount, party and account, completed after the
send) other than one another payout carries the receipt of and could be (amount, party, account: a row booked on a
payout it does not match, by a slip, contradicts the failure: reader2 L2-3). A statement that shows the opposite of
the conclusion proposed (the payment present for a failure; for a completion, its receipt absent although the
statement covers the bound, or present with another amount, party, account or time) is a ``StatementContradicts``
(409): the proposal, not the file, is wrong. A completion naming a payment that another payout M-Pesa may still pay
could equally be (review12 R12-9: two payouts of one amount to one paybill, the row showing no account number) is a
``StatementAmbiguous`` (409): the statement does not say which was paid, so it concludes neither, as reconciliation
advises neither. A payment the same statement shows reversed (a completed ``Reversal`` row putting money back whose
``Linked Transaction ID`` is its receipt: M-Pesa took it back, a wrong number, a recipient's limit) is no payment
(review13 R13-11): a completion naming it is a ``StatementContradicts`` naming the reversal, and it is no sign a
failure is wrong (the failure keeps the payment and its reversal as its evidence).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.payouts import matching
from cryptopay.core.payouts.model import ConclusionOutcome, Payout, StatementEvidence

if TYPE_CHECKING:  # the reconciliation package imports the payouts': read only its types here
    from cryptopay.core.ports.payments import PaymentsUnitOfWork
    from cryptopay.core.reconciliation.statement import Statement

__all__ = [
    "RECEIPT",
    "StatementAmbiguous",
    "StatementContradicts",
    "from_statement",
    "ours",
    "receipt_free",
]

RECEIPT = re.compile(r"[A-Za-z0-9]{6,20}", re.ASCII)  # M-Pesa's TransactionID (``NLJ7RT61SV``)


def receipt_free(
    uow: PaymentsUnitOfWork, payout: Payout, receipt: str | None, *, what: str = "M-Pesa's receipt"
) -> None:
    """``Conflict`` when M-Pesa's ``receipt`` (or a bank reference: ``what``) is booked on another payout already
    (LASTREAD L-6): one payment never closes two payouts as paid (the other payee would never be paid while the
    books say both were). The receipt's lock is claimed first (``claim_receipt_lock``, to the end of the unit of
    work): a decision naming it on another payout at the same moment waits, then sees this one's booking (R13-8).
    Every decision claiming a receipt asks it (a conclusion proposed or approved, a bank confirmation, a receipt
    correction), after locking its payout's row."""
    if receipt is None:
        return
    uow.payouts.claim_receipt_lock(receipt)
    taken = [p.id for p in uow.payouts.with_receipt(receipt) if p.id != payout.id]
    if taken:
        raise Conflict(f"{what} {receipt} is payout {taken[0]}'s already: one payment pays one payout")


class StatementContradicts(Conflict):
    """The statement uploaded as a conclusion's evidence shows the opposite of the conclusion proposed."""

    code = "statement_contradicts"


class StatementAmbiguous(Conflict):
    """The statement's payment named for a completion could equally be another open payout's (review12 R12-9): it
    does not say which M-Pesa paid."""

    code = "statement_ambiguous"


def ours(statement: Statement, shortcode: str | None) -> None:
    """``InvalidInput`` unless ``statement`` is of ``shortcode``, our payouts' Short Code (the B2C/B2B PartyA), as
    reconciliation's ``_statement_ours`` (review6 F3): another Short Code's statement (the paybill's C2B, a blank
    one) has no payout lines, so it would "show" any payout absent (LASTREAD L-4). ``None``: not checked (an
    in-memory stack without M-Pesa); ``""``: none configured, every statement refused."""
    if shortcode is None:
        return
    if not shortcode:
        raise InvalidInput(
            "no M-Pesa payout Short Code is configured: no statement can be told to be ours", field="statement"
        )
    said = statement.shortcode.strip()
    if said != shortcode:
        named = f"Short Code {said!r}" if said else "no Short Code"
        raise InvalidInput(
            f"the statement is of {named}, not of our payouts' Short Code {shortcode}", field="statement"
        )


def _period(statement: Statement, payout: Payout) -> tuple[datetime, datetime, datetime]:
    """The statement's period and the payout's send (to the second, as statements write times), the period
    covering the send; ``InvalidInput`` otherwise."""
    covers = statement.covers
    if covers is None:
        raise InvalidInput("the statement's period is unknown: it has no Time Period line", field="statement")
    start, end = covers
    if payout.submitted_at is None:
        raise InvalidInput(f"payout {payout.id} was never sent: no statement can show it", field="statement")
    sent = payout.submitted_at.replace(microsecond=0)
    if not start <= sent <= end:
        raise InvalidInput(
            f"the statement covers {start.isoformat()} to {end.isoformat()}, not the payout's send at "
            f"{sent.isoformat()}",
            field="statement",
        )
    return start, end, sent


def from_statement(
    payout: Payout,
    outcome: ConclusionOutcome,
    receipt: str | None,
    statement: Statement,
    bound: timedelta,
    *,
    shortcode: str | None,
    now: datetime,
    others: Sequence[Payout] = (),
    booked: Mapping[str, Payout] | None = None,
) -> StatementEvidence:
    """What ``statement`` shows of ``payout``, when it bears out concluding it ``outcome`` (``receipt``, for a
    completion): ``InvalidInput`` (field ``statement``) when it cannot speak of the payout (not ours, no period, not
    covering the send, too short to show an absence), ``StatementContradicts`` (409) when it shows otherwise,
    ``StatementAmbiguous`` (409) when the payment named could equally be another open payout's.

    ``others``: the other payouts M-Pesa may still pay (``submitted``, ``unknown``); ``booked``: the payouts carrying
    the receipts of the statement's rows that could be one of them (``matching.place``; review12 R12-9)."""
    ours(statement, shortcode)
    start, end, sent = _period(statement, payout)
    paid = [line for line in statement.lines if line.is_payout]
    kept = StatementEvidence(
        digest=statement.digest, shortcode=statement.shortcode, covers_from=start, covers_to=end, payments=len(paid)
    )
    read_until = min(end, now)  # nothing after the moment it is read is on it, whatever its period says
    proves_absence = sent + bound <= read_until
    taken = {r: p for r, p in (booked or {}).items() if p.id != payout.id}  # this payout's own receipt is not
    undone = matching.reversals(statement)
    if outcome is ConclusionOutcome.COMPLETED:
        at = next((i for i, line in enumerate(paid) if line.receipt == receipt), None)
        if at is None:
            said = f"receipt {receipt} is no payment on the statement"
            if proves_absence:
                raise StatementContradicts(f"{said}, which covers the payout's send and the {bound} after it")
            raise InvalidInput(f"{said}: give one covering the payment", field="statement")
        line = paid[at]
        if (
            line.withdrawn != payout.amount
            or not matching.same_party(payout, line)
            or not matching.accounts_agree(payout, line)
            or line.completed_at < sent
        ):
            said, ref = matching.account_of(line), payout.b2b.account_reference if payout.b2b else ""
            theirs = f", account {matching.shown_account(said)}" if said else ""
            mine = f", account {matching.shown_account(ref)}" if ref else ""
            raise StatementContradicts(
                f"the statement's payment {receipt} ({line.withdrawn}{theirs}, completed "
                f"{line.completed_at.isoformat()}) is not this payout's ({payout.amount} to its party{mine}, sent "
                f"{sent.isoformat()})"
            )
        if (back := undone.get(line.receipt)) is not None:
            raise StatementContradicts(
                f"the statement's payment {receipt} was reversed by M-Pesa ({back.receipt}, {back.paid_in} back at "
                f"{back.completed_at.isoformat()}): it paid nothing; conclude the payout failed"
            )
        where = matching.place(paid, [payout, *(p for p in others if p.id != payout.id)], taken)[at]
        if where.ambiguous:
            rivals = ", ".join(p.id for p in where.could_be if p.id != payout.id)
            raise StatementAmbiguous(
                f"the statement's payment {receipt} could equally be payout {rivals}'s (the same amount and party, "
                "and no account number on its row tells them apart): it does not show which M-Pesa paid; learn it "
                "from M-Pesa's record of the payment (its A/C No. on the portal) or the payee"
            )
        return attrs.evolve(kept, receipt=line.receipt, paid_at=line.completed_at, paid=line.withdrawn)
    if not proves_absence:
        raise InvalidInput(
            f"the statement covers the payout's send ({sent.isoformat()}) but not the {bound} after it up to now: it "
            "cannot show the payment is absent",
            field="statement",
        )
    # a payment another payout carries (its receipt booked) is that payout's, not a sign this one was paid, when it
    # could be that payout's payment; one booked on a payout it is not (a receipt named by a slip: reader2 L2-3)
    # may be this payout's payment, so concluding it failed could pay it twice: M-Pesa's record of it says whose
    maybe = [line for line in paid if matching.could_pay(payout, line)]
    gone = [line for line in maybe if line.receipt in undone]  # paid and reversed: no payment (R13-11)
    maybe = [line for line in maybe if line.receipt not in undone]
    wrong = [(line, taken[line.receipt]) for line in maybe if line.receipt in taken]
    wrong = [(line, carrier) for line, carrier in wrong if not matching.is_its(carrier, line)]
    if wrong:
        line, carrier = wrong[0]
        raise StatementContradicts(
            f"the statement's payment {line.receipt} ({line.withdrawn}, completed {line.completed_at.isoformat()}) "
            f"may be this payout's, and it is booked on payout {carrier.id}, which it does not match ({carrier.amount}"
            " to its party and account): a failure could pay it twice; check M-Pesa's record of the payment first"
        )
    maybe = [line for line in maybe if line.receipt not in taken]
    if maybe:
        receipts = ", ".join(line.receipt for line in maybe)
        raise StatementContradicts(
            f"the statement shows a payment that may be this payout's ({receipts}): conclude it completed with its "
            "receipt, or check the payment is another's"
        )
    if gone:
        back = undone[gone[0].receipt]
        return attrs.evolve(
            kept, reversed_receipt=gone[0].receipt, reversal=back.receipt, reversed_at=back.completed_at
        )
    return kept
