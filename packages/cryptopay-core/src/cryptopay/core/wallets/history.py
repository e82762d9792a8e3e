"""A wallet's history, read from the ledger: every movement with the balance after it, filtered; monthly statements.

The ledger keeps each line's balance before and after, so running balances are the books' own, never recomputed.
A wallet account is a liability: a credit raises the user's balance, so the amount shown is the line negated.
Reads the latest ``window`` entries per asset (1,000 by default) and filters them: older ones need paging by time,
which the ledger store does not offer yet.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.flows import WALLET_ASSETS, wallet_account
from cryptopay.core.kyc import month_bounds
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import Asset, Money
from cryptopay.core.reports.periods import MONTH_PATTERN
from cryptopay.core.system import NAIROBI
from cryptopay.core.text import spreadsheet_row

__all__ = ["MONTH_PATTERN", "HistoryLine", "history", "statement_csv", "statement_period"]

_MONTH = re.compile(MONTH_PATTERN)


@attrs.frozen
class HistoryLine:
    """One movement of one balance: signed amount (+ in, - out), the balance after it, what it was."""

    entry_id: str
    at: datetime
    amount: Money
    balance_after: Money
    kind: str
    description: str
    transfer_id: str | None


def history(
    ledger: Ledger,
    user_id: str,
    *,
    asset: Asset | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    limit: int = 100,
    window: int = 1000,
) -> list[HistoryLine]:
    """The user's movements, newest first, at or after ``since`` and before ``until``, of ``kind`` if given."""
    lines: list[HistoryLine] = []
    for held in [asset] if asset is not None else list(WALLET_ASSETS):
        if held not in WALLET_ASSETS:
            raise InvalidInput(f"a wallet holds KES, USDT and BTC, not {held.code}", field="asset")
        code = wallet_account(user_id, held)
        for entry in ledger.entries(account=code, limit=window):
            meta = dict(entry.metadata)
            for line in entry.lines:
                if line.account != code:
                    continue
                lines.append(
                    HistoryLine(
                        entry.id,
                        entry.created_at,
                        Money(-line.amount.amount, held),
                        Money.of(line.balance_after, held),
                        meta.get("kind", "other"),
                        entry.description,
                        meta.get("transfer_id"),
                    )
                )
    chosen = [
        h
        for h in lines
        if (since is None or h.at >= since) and (until is None or h.at < until) and (kind is None or h.kind == kind)
    ]
    # Stable: within one instant the ledger's own order (newest first) stands.
    return sorted(chosen, key=lambda h: h.at, reverse=True)[:limit]


def statement_period(month: str) -> tuple[datetime, datetime]:
    """The Nairobi month ``YYYY-MM`` as [start, end).

    >>> [d.isoformat() for d in statement_period("2026-03")]
    ['2026-03-01T00:00:00+03:00', '2026-04-01T00:00:00+03:00']
    >>> statement_period("0000-01")
    Traceback (most recent call last):
    cryptopay.core.errors.InvalidInput: a statement month is written YYYY-MM, from 2000-01 to 2999-12
    """
    if not _MONTH.fullmatch(month):
        raise InvalidInput("a statement month is written YYYY-MM, from 2000-01 to 2999-12", field="month")
    return month_bounds(datetime(int(month[:4]), int(month[5:]), 15, tzinfo=NAIROBI))


def statement_csv(lines: Iterable[HistoryLine]) -> str:
    """A statement as CSV, oldest first (``lines`` newest first, as ``history`` gives them): date (Nairobi), asset,
    amount, balance after, kind, description, reference."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "asset", "amount", "balance_after", "kind", "description", "reference"])
    oldest_first = list(lines)[::-1]  # ``lines`` come newest first; a stable sort keeps ties in ledger order
    for h in sorted(oldest_first, key=lambda h: h.at):
        writer.writerow(
            spreadsheet_row(
                [
                    h.at.astimezone(NAIROBI).isoformat(timespec="seconds"),
                    h.amount.asset.code,
                    format(h.amount.amount, "f"),
                    format(h.balance_after.amount, "f"),
                    h.kind,
                    h.description,
                    h.transfer_id or h.entry_id,
                ]
            )
        )
    return out.getvalue()
