"""Reading M-Pesa's statement as the evidence for concluding a payout whose outcome is unknown (R10-4).

A completion must name a payment on the statement with the payout's amount and receiving party; a failure needs a
statement whose period covers the payout's send and the unknown bound after it (a request M-Pesa took is paid
within it) and shows no payment that could be the payout's (its amount, its party, completed after the send).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from cryptopay.core.errors import InvalidInput
from cryptopay.core.payouts.model import ConclusionOutcome, Payout

if TYPE_CHECKING:  # the reconciliation package imports the payouts': read only its types here
    from cryptopay.core.reconciliation.statement import Statement, StatementLine

__all__ = ["RECEIPT", "from_statement", "ours"]

RECEIPT = re.compile(r"[A-Za-z0-9]{6,20}", re.ASCII)  # M-Pesa's TransactionID (``NLJ7RT61SV``)


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


def from_statement(
    payout: Payout,
    outcome: ConclusionOutcome,
    receipt: str | None,
    statement: Statement,
    bound: timedelta,
    *,
    shortcode: str | None,
) -> str:
    """The evidence ``statement`` gives for concluding ``payout`` as ``outcome`` (a line of text for the record);
    ``InvalidInput`` (field ``statement``) when it does not show that, or is not of our payouts' ``shortcode``."""
    ours(statement, shortcode)
    covers = statement.covers
    if covers is None:
        raise InvalidInput("the statement's period is unknown: say which period it is of", field="statement")
    start, end = covers
    of = f"M-Pesa statement of Short Code {statement.shortcode or '?'}, {start.isoformat()} to {end.isoformat()}"
    paid = [line for line in statement.lines if line.is_payout]
    if outcome is ConclusionOutcome.COMPLETED:
        line = next((line for line in paid if line.receipt == receipt), None)
        if line is None:
            raise InvalidInput(f"receipt {receipt} is no payment on the statement", field="statement")
        if line.withdrawn != payout.amount or not _same_party(line, payout):
            raise InvalidInput(
                f"the statement's payment {receipt} is {line.withdrawn}, not this payout's {payout.amount} to its "
                "party",
                field="statement",
            )
        return f"{of}: receipt {receipt}, {line.withdrawn}"
    sent = payout.submitted_at
    if sent is None or sent.replace(microsecond=0) < start or sent + bound > end:
        raise InvalidInput(
            f"the statement does not cover the payout's send ({sent.isoformat() if sent else 'never sent'}) and the "
            f"{bound} after it: it cannot show the payment is absent",
            field="statement",
        )
    maybe = [line for line in paid if line.withdrawn == payout.amount and _same_party(line, payout)]
    maybe = [line for line in maybe if line.completed_at >= sent.replace(microsecond=0)]
    if maybe:
        receipts = ", ".join(line.receipt for line in maybe)
        raise InvalidInput(
            f"the statement shows a payment that may be this payout's ({receipts}): conclude it completed with its "
            "receipt, or check the payment is another's",
            field="statement",
        )
    return f"{of}: no payment of {payout.amount} to its party since the send"
