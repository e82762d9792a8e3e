"""Reading M-Pesa's statement as the evidence for concluding a payout whose outcome is unknown (R10-4).

The statement is of our payouts' Short Code and its period covers the payout's send (``InvalidInput``, field
``statement``, otherwise: it cannot speak of the payout). A completion must name a payment on it with the payout's
amount and receiving party, completed after the send; a failure needs the statement to cover the send and the unknown
bound after it, up to when it is read (a day's statement read at noon shows nothing of the afternoon; a request
M-Pesa took is paid within the bound), and to show no payment that could be the payout's (its amount, its party,
completed after the send). A statement that shows the opposite of the conclusion proposed (the payment present for a
failure; for a completion, its receipt absent although the statement covers the bound, or present with another
amount, party or time) is a ``StatementContradicts`` (409): the proposal, not the file, is wrong.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.payouts.model import ConclusionOutcome, Payout, StatementEvidence

if TYPE_CHECKING:  # the reconciliation package imports the payouts': read only its types here
    from cryptopay.core.reconciliation.statement import Statement, StatementLine

__all__ = ["RECEIPT", "StatementContradicts", "from_statement", "ours"]

RECEIPT = re.compile(r"[A-Za-z0-9]{6,20}", re.ASCII)  # M-Pesa's TransactionID (``NLJ7RT61SV``)


class StatementContradicts(Conflict):
    """The statement uploaded as a conclusion's evidence shows the opposite of the conclusion proposed."""

    code = "statement_contradicts"


def _same_party(line: StatementLine, payout: Payout) -> bool:
    pattern, number = line.party_number, payout.party
    if not pattern:
        return True
    return len(pattern) == len(number) and all(p in ("*", n) for p, n in zip(pattern, number, strict=True))


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
) -> StatementEvidence:
    """What ``statement`` shows of ``payout``, when it bears out concluding it ``outcome`` (``receipt``, for a
    completion): ``InvalidInput`` (field ``statement``) when it cannot speak of the payout (not ours, no period, not
    covering the send, too short to show an absence), ``StatementContradicts`` (409) when it shows otherwise."""
    ours(statement, shortcode)
    start, end, sent = _period(statement, payout)
    paid = [line for line in statement.lines if line.is_payout]
    kept = StatementEvidence(
        digest=statement.digest, shortcode=statement.shortcode, covers_from=start, covers_to=end, payments=len(paid)
    )
    read_until = min(end, now)  # nothing after the moment it is read is on it, whatever its period says
    proves_absence = sent + bound <= read_until
    if outcome is ConclusionOutcome.COMPLETED:
        line = next((line for line in paid if line.receipt == receipt), None)
        if line is None:
            said = f"receipt {receipt} is no payment on the statement"
            if proves_absence:
                raise StatementContradicts(f"{said}, which covers the payout's send and the {bound} after it")
            raise InvalidInput(f"{said}: give one covering the payment", field="statement")
        if line.withdrawn != payout.amount or not _same_party(line, payout) or line.completed_at < sent:
            raise StatementContradicts(
                f"the statement's payment {receipt} ({line.withdrawn}, completed {line.completed_at.isoformat()}) is "
                f"not this payout's ({payout.amount} to its party, sent {sent.isoformat()})"
            )
        return attrs.evolve(kept, receipt=line.receipt, paid_at=line.completed_at, paid=line.withdrawn)
    if not proves_absence:
        raise InvalidInput(
            f"the statement covers the payout's send ({sent.isoformat()}) but not the {bound} after it up to now: it "
            "cannot show the payment is absent",
            field="statement",
        )
    maybe = [line for line in paid if line.withdrawn == payout.amount and _same_party(line, payout)]
    maybe = [line for line in maybe if line.completed_at >= sent]
    if maybe:
        receipts = ", ".join(line.receipt for line in maybe)
        raise StatementContradicts(
            f"the statement shows a payment that may be this payout's ({receipts}): conclude it completed with its "
            "receipt, or check the payment is another's"
        )
    return kept
