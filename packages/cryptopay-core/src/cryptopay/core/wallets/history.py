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
from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.flows import WALLET_ASSETS, wallet_account
from cryptopay.core.kyc import month_bounds
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import Asset, Money
from cryptopay.core.payouts import Payout, PayoutKind
from cryptopay.core.reports.periods import MONTH_PATTERN
from cryptopay.core.system import NAIROBI
from cryptopay.core.text import spreadsheet_row

__all__ = ["KINDS", "MONTH_PATTERN", "HistoryLine", "history", "payout_line", "statement_csv", "statement_period"]

_MONTH = re.compile(MONTH_PATTERN)

KINDS = (
    "p2p",
    "p2p_claim",
    "p2p_return",
    "buy",
    "sell",
    "bill",
    "withdrawal",
    "remittance",
    "deposit",
    "deposit_reversed",
    "other",
)
"""The kinds of movement a wallet's history shows (``?kind=`` takes each): the ledger entries' own ``kind``, and for
a payout from the wallet (a sale's or cash-out's B2C, a bill's B2B) the payout's purpose: ``sell`` or ``bill``."""

# The entries that take a payout out of a wallet: its hold posted on success, or a failed one M-Pesa paid after all.
_PAYOUT_ENTRY = re.compile(r"^payout:([^:]+):(?:post|paid_after_failure)$")


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
    payouts: Mapping[str, tuple[str, str]] | None = None,
    after: str | None = None,
) -> list[HistoryLine]:
    """The user's movements, newest first, at or after ``since`` and before ``until``, of ``kind`` if given; with
    ``after`` (the ``entry_id`` of the last line of the previous page) the ones that follow that line (a page:
    ``InvalidInput`` on ``cursor`` when no line of this history has that id).

    ``payouts`` names what each of the wallet's payouts was for (payout id -> kind and description, e.g. ``bill``,
    "bill bil_1 to paybill 888880, account 01234567890"): a payout's line says so instead of ``other``."""
    named = payouts or {}
    lines: list[HistoryLine] = []
    for held in [asset] if asset is not None else list(WALLET_ASSETS):
        if held not in WALLET_ASSETS:
            raise InvalidInput(f"a wallet holds KES, USDT and BTC, not {held.code}", field="asset")
        code = wallet_account(user_id, held)
        for entry in ledger.entries(account=code, limit=window):
            meta = dict(entry.metadata)
            what, description = meta.get("kind", "other"), entry.description
            paid = _PAYOUT_ENTRY.match(entry.idempotency_key) if "kind" not in meta else None
            if paid is not None and paid.group(1) in named:
                what, description = named[paid.group(1)]
            for line in entry.lines:
                if line.account != code:
                    continue
                lines.append(
                    HistoryLine(
                        entry.id,
                        entry.created_at,
                        Money(-line.amount.amount, held),
                        Money.of(line.balance_after, held),
                        what,
                        description,
                        meta.get("transfer_id"),
                    )
                )
    chosen = [
        h
        for h in lines
        if (since is None or h.at >= since) and (until is None or h.at < until) and (kind is None or h.kind == kind)
    ]
    # Newest first; within one instant by entry id (ids are time-ordered), so a page boundary is a fixed position.
    ordered = sorted(chosen, key=lambda h: (h.at, h.entry_id), reverse=True)
    if after is not None:
        bound = next((h for h in ordered if h.entry_id == after), None)
        if bound is None:
            raise InvalidInput(
                "cursor is not a line of this history (pass back the next page's cursor)", field="cursor"
            )
        ordered = [h for h in ordered if (h.at, h.entry_id) < (bound.at, bound.entry_id)]
    return ordered[:limit]


def payout_line(payout: Payout) -> tuple[str, str] | None:
    """What a payout from a wallet was for, as its history line says it (kind, description); None for another kind:
    a sale's or cash-out's B2C (``settlement_id`` is the ``sel_`` id) is ``sell`` "sale sel_1 paid to your M-Pesa
    number", a bill's B2B (the ``bil_`` id) is ``bill`` "bill bil_1 paid to paybill 888880, account 01234567890"."""
    if payout.kind is PayoutKind.SALE:
        return "sell", f"sale {payout.settlement_id} paid to your M-Pesa number"
    if payout.kind is PayoutKind.BILL:
        to = f" paid to paybill {payout.b2b.party}, account {payout.b2b.account_reference}" if payout.b2b else ""
        return "bill", f"bill {payout.settlement_id}{to}"
    return None


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
