"""A wallet's history, read from the ledger: every movement with the balance after it, filtered; monthly statements.

The ledger keeps each line's balance before and after, so running balances are the books' own, never recomputed.
A wallet account is a liability: a credit raises the user's balance, so the amount shown is the line negated.
Reads the ledger's entries of each asset's account page by page (keyset pages on ``(created_at, id)``, the time
bounds given to the store), merged newest first, until the page asked for is full: a month's statement holds every
movement of the month however busy the wallet.

A conversion (a sale, a bill paid from USDT, USDC to USDT) is one ledger entry with a line per asset, each carrying
the entry's id; a page, and any listing cut at ``limit``, therefore never ends inside an entry: it holds the rest of
its last entry's lines too (at most two more than ``limit``: a wallet has three assets), and the next page's cursor,
that entry's id, starts at the entry after it (review R14-13: a page ending between a sale's two lines lost one).
"""

from __future__ import annotations

import csv
import heapq
import io
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.flows import WALLET_ASSETS, wallet_account
from cryptopay.core.kyc import month_bounds
from cryptopay.core.ledger import Entry, Ledger
from cryptopay.core.money import Asset, Money
from cryptopay.core.reports.periods import MONTH_PATTERN
from cryptopay.core.system import NAIROBI
from cryptopay.core.text import spreadsheet_row
from cryptopay.core.wallets.wording import CLOSING_BALANCE, OPENING_BALANCE, Wording, entry_wording

__all__ = [
    "KINDS",
    "MONTH_PATTERN",
    "Describe",
    "HistoryLine",
    "HistoryPage",
    "Receipts",
    "StatementBalance",
    "english",
    "history",
    "history_page",
    "reference",
    "statement_balances",
    "statement_csv",
    "statement_period",
    "statement_rows",
]

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
    "paybill",
    "deposit",
    "deposit_reversed",
    "other",
)
"""The kinds of movement a wallet's history shows (``?kind=`` takes each): the ledger entries' own ``kind``, and for
a payout from the wallet (a sale's or cash-out's B2C, a bill's B2B) the payout's purpose: ``sell`` or ``bill``; a bill's
conversion of USDT (a ``sell`` entry under the bill's id) is ``bill``."""

# An officer's decision on a send held for a frozen recipient reads as any send's does (review7 F6: neither party is
# told of the freeze): released, the recipient's ordinary receipt; returned, the sender's, as an unclaimed send's
# return. The ledger keeps its own kind and wording (``flows.decide_held_send``) for staff.
_AS_ANY_SEND = {"p2p_held_release": "p2p", "p2p_held_return": "p2p_return"}
# A paybill payment an operator credited from suspense reads as the customer's paybill payment it is.
_AS_SHOWN = {**_AS_ANY_SEND, "paybill_release": "paybill"}

# The entries that take a payout out of a wallet: its hold posted on success, or a failed one M-Pesa paid after all.
_PAYOUT_ENTRY = re.compile(r"^payout:([^:]+):(?:post|paid_after_failure)$")


@attrs.frozen
class HistoryLine:
    """One movement of one balance: signed amount (+ in, - out), the balance after it, what it was: ``description``
    in English (the API's and the CSV's), ``wording`` the same words for a shell to translate (``wallets.wording``;
    None for an entry no product wrote, whose ``description`` is the ledger's); ``receipt`` M-Pesa's, for a
    statement (R14-3: ticked against the customer's M-Pesa SMS)."""

    entry_id: str
    at: datetime
    amount: Money
    balance_after: Money
    kind: str
    description: str
    transfer_id: str | None
    wording: Wording | None = None
    receipt: str | None = None  # M-Pesa's receipt of a buy's payment or a payout's, when asked for and known


Receipts = Callable[[str, str], str | None]
"""M-Pesa's receipt of a movement it made, by what it was and its id: ``("buy", buy id)`` or ``("payout", payout
id)``; None when unknown (not paid yet, or not the wallet's)."""


@attrs.frozen
class HistoryPage:
    """A page of a history: its lines (whole entries) and, when more follow, the cursor of the next page (the
    ``entry_id`` of its last line), else None."""

    lines: list[HistoryLine]
    next_cursor: str | None


def history(
    ledger: Ledger,
    user_id: str,
    *,
    asset: Asset | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    limit: int | None = 100,
    payouts: Callable[[str], tuple[str, Wording] | None] | None = None,
    after: str | None = None,
    page: int = 500,
    receipts: Receipts | None = None,
) -> list[HistoryLine]:
    """The user's movements, newest first, at or after ``since`` and before ``until``, of ``kind`` if given: the
    first ``limit`` and the rest of the last one's entry (never part of an entry; None: every one); with ``after``
    (the ``entry_id`` of the last line of the previous page) the ones that follow that entry (a page:
    ``InvalidInput`` on ``cursor`` when no line of this history has that id). ``history_page`` says whether more follow.

    ``payouts`` names what a payout from the wallet was for (payout id -> kind and words, e.g. ``bill``,
    "bill bil_1 paid to paybill 888880, account 01234567890", or None): a payout's line says so, not ``other``.
    ``receipts`` (a statement's) gives a buy's or payout's line M-Pesa's receipt.
    The ledger is read ``page`` entries at a time per asset, only as far as the answer needs."""
    lines = _lines(
        ledger,
        user_id,
        asset,
        since=since,
        until=until,
        kind=kind,
        payouts=payouts,
        after=after,
        page=page,
        receipts=receipts,
    )
    return _taken(lines, limit).lines


def history_page(
    ledger: Ledger,
    user_id: str,
    *,
    limit: int,
    asset: Asset | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    payouts: Callable[[str], tuple[str, Wording] | None] | None = None,
    after: str | None = None,
    page: int = 500,
) -> HistoryPage:
    """``history``'s page of ``limit`` lines (and the rest of its last entry) after the cursor ``after``, with the
    next page's cursor when more lines follow: paging by it gives every line of the history once, in order."""
    lines = _lines(
        ledger,
        user_id,
        asset,
        since=since,
        until=until,
        kind=kind,
        payouts=payouts,
        after=after,
        page=page,
        receipts=None,
    )
    return _taken(lines, limit)


def _taken(lines: Iterator[HistoryLine], limit: int | None) -> HistoryPage:
    """The first ``limit`` of ``lines`` and the rest of the last one's entry (lines of one entry come together),
    and the next page's cursor when a line follows (read one line further, no more)."""
    taken: list[HistoryLine] = []
    for h in lines:
        if limit is not None and len(taken) >= limit and (not taken or h.entry_id != taken[-1].entry_id):
            return HistoryPage(taken, taken[-1].entry_id if taken else None)
        taken.append(h)
    return HistoryPage(taken, None)


def _lines(
    ledger: Ledger,
    user_id: str,
    asset: Asset | None,
    *,
    since: datetime | None,
    until: datetime | None,
    kind: str | None,
    payouts: Callable[[str], tuple[str, Wording] | None] | None,
    after: str | None,
    page: int,
    receipts: Receipts | None,
) -> Iterator[HistoryLine]:
    held = [asset] if asset is not None else list(WALLET_ASSETS)
    for each in held:
        if each not in WALLET_ASSETS:
            raise InvalidInput(f"a wallet holds KES, USDT and BTC, not {each.code}", field="asset")
    codes = {wallet_account(user_id, each): each for each in held}
    before = None
    if after is not None:
        bound = ledger.entry(after)
        if bound is None or not codes.keys() & {line.account for line in bound.lines}:
            raise InvalidInput(
                "cursor is not a line of this history (pass back the next page's cursor)", field="cursor"
            )
        before = (bound.created_at, bound.id)
    # Newest first; within one instant by entry id (ids are time-ordered), so a page boundary is a fixed position.
    merged = heapq.merge(
        *(
            _account_lines(
                ledger,
                code,
                each,
                since=since,
                until=until,
                before=before,
                payouts=payouts,
                page=page,
                receipts=receipts,
            )
            for code, each in codes.items()
        ),
        key=lambda h: (h.at, h.entry_id),
        reverse=True,
    )
    # One entry's lines share the key, so they come out together (in ``WALLET_ASSETS`` order).
    return (h for h in merged if kind is None or h.kind == kind)


def _account_lines(
    ledger: Ledger,
    code: str,
    held: Asset,
    *,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, str] | None,
    payouts: Callable[[str], tuple[str, Wording] | None] | None,
    page: int,
    receipts: Receipts | None,
) -> Iterator[HistoryLine]:
    """One account's lines, newest first, read a page of entries at a time."""
    for entry in ledger.walk(code, since=since, until=until, before=before, page=page):
        for line in entry.lines:
            if line.account == code:
                amount = Money(-line.amount.amount, held)
                what, description, words = _described(entry, amount, payouts)
                paid = _paid_by_mpesa(entry) if receipts is not None else None
                yield HistoryLine(
                    entry.id,
                    entry.created_at,
                    amount,
                    Money.of(line.balance_after, held),
                    what,
                    description,
                    dict(entry.metadata).get("transfer_id"),
                    words,
                    receipts(*paid) if receipts is not None and paid is not None else None,
                )


def _paid_by_mpesa(entry: Entry) -> tuple[str, str] | None:
    """What M-Pesa moved in an entry, as ``Receipts`` names it: a buy's credit or a payout's posting."""
    meta = dict(entry.metadata)
    if meta.get("kind") == "buy" and meta.get("buy_id"):
        return "buy", meta["buy_id"]
    paid = _PAYOUT_ENTRY.match(entry.idempotency_key) if "kind" not in meta else None
    return ("payout", paid.group(1)) if paid is not None else None


def _described(
    entry: Entry, amount: Money, payouts: Callable[[str], tuple[str, Wording] | None] | None
) -> tuple[str, str, Wording | None]:
    """A line's kind, English description and words, derived from the entry's kind and data (``wallets.wording``;
    a payout's from the payout); an entry no product wrote keeps the ledger's text and no words."""
    meta = dict(entry.metadata)
    paid = _PAYOUT_ENTRY.match(entry.idempotency_key) if "kind" not in meta else None
    named = payouts(paid.group(1)) if paid is not None and payouts is not None else None
    if named is None:
        named = entry_wording(meta, entry.idempotency_key, amount)
    if named is None:
        return meta.get("kind", "other"), entry.description, None
    return _AS_SHOWN.get(named[0], named[0]), str(named[1]), named[1]


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


@attrs.frozen
class StatementBalance:
    """One balance over a statement's month as the ledger has it: ``opening`` at ``opened_at`` (the month's start),
    ``closing`` at ``closed_at`` (its end, or when the statement is drawn for a month not over)."""

    opening: Money
    closing: Money
    opened_at: datetime
    closed_at: datetime

    def lines(self) -> tuple[HistoryLine, HistoryLine]:
        """The opening and the closing balance as a statement's lines (no amount, no reference): kinds
        ``opening_balance`` and ``closing_balance``."""
        return (
            _balance_line(self.opening, self.opened_at, "opening_balance", Wording(OPENING_BALANCE)),
            _balance_line(self.closing, self.closed_at, "closing_balance", Wording(CLOSING_BALANCE)),
        )


def _balance_line(balance: Money, at: datetime, kind: str, words: Wording) -> HistoryLine:
    return HistoryLine("", at, Money.zero(balance.asset), balance, kind, str(words), None, words)


_BALANCE_KINDS = frozenset({"opening_balance", "closing_balance"})


def statement_balances(
    ledger: Ledger, user_id: str, since: datetime, until: datetime, now: datetime
) -> list[StatementBalance]:
    """Each of the wallet's balances at ``since`` and at ``until`` (a statement's month; one not over closes at
    ``now``), read from the ledger: the balance after the account's last line before each moment (zero before its
    first). Only the assets the wallet held or moved by ``until``, in ``WALLET_ASSETS`` order."""
    found = []
    for asset in WALLET_ASSETS:
        code = wallet_account(user_id, asset)
        closing = _balance_before(ledger, code, asset, until)
        if closing is not None:
            opening = _balance_before(ledger, code, asset, since) or Money.zero(asset)
            found.append(StatementBalance(opening, closing, since, max(since, min(until, now))))
    return found


def _balance_before(ledger: Ledger, code: str, asset: Asset, moment: datetime) -> Money | None:
    """The account's balance after its last line before ``moment``, or None when it has none."""
    for entry in ledger.walk(code, until=moment, page=1):
        for line in entry.lines:
            if line.account == code:
                return Money.of(line.balance_after, asset)
    return None


def reference(line: HistoryLine) -> str:
    """A statement line's reference: the transfer's id, else the entry's, and M-Pesa's receipt when known.

    >>> from datetime import UTC
    >>> zero = Money.zero(Asset("KES", 2))
    >>> reference(HistoryLine("ent_1", datetime(2026, 3, 1, tzinfo=UTC), zero, zero, "buy", "", None, receipt="SBX1"))
    'ent_1 M-Pesa SBX1'
    """
    found = line.transfer_id or line.entry_id
    return f"{found} M-Pesa {line.receipt}" if line.receipt else found


Describe = Callable[[HistoryLine], str]
"""A line's description for its reader (``english``: the API's; a shell's: the line's words in the reader's
language)."""


def english(line: HistoryLine) -> str:
    """A line's description in English, as the ledger and the API say it."""
    return line.description


def statement_csv(
    lines: Iterable[HistoryLine], *, balances: Iterable[StatementBalance] = (), describe: Describe = english
) -> str:
    """A statement as CSV, oldest first (``lines`` newest first, as ``history`` gives them): date (Nairobi), asset,
    amount, balance after, kind, description (``describe``: in the reader's language), reference (``reference``).
    Each of ``balances`` adds an ``opening_balance`` line first and a ``closing_balance`` line last (its amount and
    reference empty), dated the month's start and end."""
    return "".join(statement_rows(lines, balances=balances, describe=describe))


def statement_rows(
    lines: Iterable[HistoryLine],
    *,
    balances: Iterable[StatementBalance] = (),
    chunk: int = 500,
    describe: Describe = english,
) -> Iterator[str]:
    """``statement_csv`` in pieces of ``chunk`` rows (the header first), for a response streamed as it is written.
    The header, the kind and the figures are the API's whatever the language: a spreadsheet's formulas and a script
    read them alike.

    >>> list(statement_rows([]))
    ['date,asset,amount,balance_after,kind,description,reference\\n']
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "asset", "amount", "balance_after", "kind", "description", "reference"])
    oldest_first = list(lines)[::-1]  # ``lines`` come newest first; a stable sort keeps ties in ledger order
    ends = [b.lines() for b in balances]
    rows = [*(o for o, _ in ends), *sorted(oldest_first, key=lambda h: h.at), *(c for _, c in ends)]
    for n, h in enumerate(rows):
        if n % chunk == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        balance = h.kind in _BALANCE_KINDS
        writer.writerow(
            spreadsheet_row(
                [
                    h.at.astimezone(NAIROBI).isoformat(timespec="seconds"),
                    h.amount.asset.code,
                    "" if balance else format(h.amount.amount, "f"),
                    format(h.balance_after.amount, "f"),
                    h.kind,
                    describe(h),
                    "" if balance else reference(h),
                ]
            )
        )
    yield out.getvalue()
