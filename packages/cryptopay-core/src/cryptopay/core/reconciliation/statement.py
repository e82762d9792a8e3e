"""M-Pesa's own record: the organisation statement exported from the M-Pesa org portal (CSV), read and written.

The portal's "Download statement" CSV opens with a few ``Key:,value`` lines (``Short Code``, ``Account``,
``Time Period`` ...) and then one row per transaction under this header (column order may vary; names may not):

=====================  ========  ====================================================================
column                 needed    meaning
=====================  ========  ====================================================================
Receipt No.            yes       M-Pesa's receipt (TransactionID), e.g. ``SBX1A2B3C4``
Completion Time        yes       when it completed, Nairobi time, ``DD-MM-YYYY HH:MM:SS`` (ISO also read)
Initiation Time        no        when it was started, same format
Details                no        free text, e.g. ``Business Payment to 254708374149 - John Doe``
Transaction Status     yes       ``Completed`` (others, e.g. ``Failed``, moved no money)
Paid In                yes       money into the account (empty when none)
Withdrawn              yes       money out, often written negative (``-5,000.00``); read as its magnitude
Balance                no        the account's running balance after the row
Balance Confirmed      no        ``true`` / ``false``
Reason Type            yes       payouts: ``Business Payment``, ``Salary Payment``, ``Promotion Payment``,
                                 ``Business Pay Bill``, ``Business Buy Goods``; collections (money in from a
                                 customer): ``Pay Bill Online`` (STK Push), ``Customer Pay Bill Online``,
                                 ``Pay Bill``, ``Buy Goods Online`` ...; ``Reversal``; charges (``... Charge``)
Other Party Info       yes       ``<number> - <name>``; portals mask phones (``2547******149 - J Doe``)
Linked Transaction ID  no        the receipt a charge or a reversal belongs to
A/C No.                no        the account number of a pay-bill payment
=====================  ========  ====================================================================

Amounts are Kenya shillings with at most two decimals (thousands separators allowed), read as ``Decimal`` (never
float): ASCII digits, ``,`` between groups of three, ``.`` and a leading ``-`` only, at most 15 digits before the
point (no ``1_000``, no other scripts' digits, no exponent: ``shillings``). Times are within the years 1000 to 9999
(R13-4). A row that cannot be read is an ``InvalidInput`` naming its line; nothing is half-read.

The period a statement covers is what its ``Time Period`` line says, or what the operator says it is
(``with_period``: ``cryptopay reconcile --from --to``); it is never inferred from the rows (review6 F3: a payout or
a buy missing from a statement lay outside its first..last row, and an empty statement covered nothing, so neither was
ever compared). Without one the statement checks are skipped, saying so.

>>> from datetime import UTC
>>> text = render_statement(Statement(shortcode="600992", lines=(StatementLine(
...     receipt="SBX1", completed_at=datetime(2026, 1, 5, 11, 0, tzinfo=UTC), status="Completed",
...     withdrawn=Money.of(5000, KES), reason_type="Business Payment", other_party="254708374149 - John"),)))
>>> statement = parse_statement(text)
>>> line = statement.lines[0]
>>> line.receipt, str(line.withdrawn), line.party_number, line.completed_at.isoformat()
('SBX1', '5000.00 KES', '254708374149', '2026-01-05T11:00:00+00:00')
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts.model import mpesa_receipt
from cryptopay.core.system import NAIROBI, in_utc

__all__ = [
    "COLLECTION_REASONS",
    "COLUMNS",
    "PAYOUT_REASONS",
    "REVERSAL",
    "Statement",
    "StatementLine",
    "parse_statement",
    "period_of",
    "render_statement",
    "shillings",
]

COLUMNS = (
    "Receipt No.",
    "Completion Time",
    "Initiation Time",
    "Details",
    "Transaction Status",
    "Paid In",
    "Withdrawn",
    "Balance",
    "Balance Confirmed",
    "Reason Type",
    "Other Party Info",
    "Linked Transaction ID",
    "A/C No.",
)
_REQUIRED = (
    "Receipt No.",
    "Completion Time",
    "Transaction Status",
    "Paid In",
    "Withdrawn",
    "Reason Type",
    "Other Party Info",
)
_TIME_FORMATS = ("%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
PAYOUT_REASONS = frozenset(
    {"business payment", "salary payment", "promotion payment", "business pay bill", "business buy goods"}
)
"""Reason types of the payments we send (B2C and B2B); the statement's other rows are not payouts."""
COLLECTION_REASONS = frozenset(
    {
        "pay bill online",  # STK Push on a paybill (CustomerPayBillOnline): the wallets' buys
        "customer pay bill online",
        "pay bill fuliza online",  # STK Push paid with Fuliza overdraft
        "pay bill",  # a customer paying the paybill from the SIM menu or the app (C2B)
        "customer pay bill",
        "buy goods online",  # STK Push on a till (CustomerBuyGoodsOnline)
        "customer buy goods online",
        "buy goods",
        "merchant payment",
        "customer merchant payment",
        "c2b payment",
    }
)
"""Reason types of money a customer pays into the account (STK Push and C2B): collections, matched with our buys."""
REVERSAL = "reversal"
"""The Reason Type of a reversal: ``Linked Transaction ID`` names the receipt it reverses (money back into the account
for a reversed payout, out of it for a reversed collection)."""


@attrs.frozen(kw_only=True)
class StatementLine:
    """One statement row: a completed (or not) movement of the organisation's account."""

    receipt: str
    completed_at: datetime
    status: str
    reason_type: str
    other_party: str = ""
    paid_in: Money = attrs.field(factory=lambda: Money.zero(KES))
    withdrawn: Money = attrs.field(factory=lambda: Money.zero(KES))
    balance: Money | None = None
    initiated_at: datetime | None = None
    details: str = ""
    linked_receipt: str = ""
    account_no: str = ""

    @property
    def completed(self) -> bool:
        return self.status.strip().lower() == "completed"

    @property
    def is_payout(self) -> bool:
        """A completed B2C or B2B payment out of the account (not a charge, a top-up or a reversal)."""
        return self.completed and self.reason_type.strip().lower() in PAYOUT_REASONS and self.withdrawn.is_positive()

    @property
    def is_collection(self) -> bool:
        """A completed payment into the account from a customer (STK Push, C2B): not a reversal, not a top-up."""
        reason = self.reason_type.strip().lower()
        return self.completed and reason in COLLECTION_REASONS and self.paid_in.is_positive()

    @property
    def is_reversal(self) -> bool:
        """A completed reversal of another row (``linked_receipt``), in either direction."""
        return self.completed and self.reason_type.strip().lower() == REVERSAL

    @property
    def is_charge(self) -> bool:
        """A completed charge M-Pesa took for a transaction (``Business Payment Charge``, ``Pay Bill Charge`` ...)."""
        return self.completed and self.reason_type.strip().lower().endswith("charge")

    @property
    def party_number(self) -> str:
        """The other party's number (phone, paybill or till) as written, masked digits kept as ``*``."""
        return self.other_party.split(" - ", 1)[0].strip()


@attrs.frozen(kw_only=True)
class Statement:
    """A statement export: the account it is of, the period it covers, and its rows in file order."""

    lines: tuple[StatementLine, ...]
    shortcode: str = ""
    account: str = ""
    period: tuple[datetime, datetime] | None = None
    digest: str = ""  # sha256 of the file's text as read (a run keeps it among its inputs: R10-13)

    @property
    def covers(self) -> tuple[datetime, datetime] | None:
        """The period the statement covers, as its ``Time Period`` line (or the operator) says; None when unknown.
        Never inferred from its rows: a record missing from the statement may lie before its first row or after its
        last one (review6 F3)."""
        return self.period

    def with_period(self, period: tuple[datetime, datetime]) -> Statement:
        """The statement as of ``period`` (the operator's ``--from``/``--to``): its own ``Time Period``, when it has
        one, must be that period (``InvalidInput`` otherwise: the file is not the statement said).

        >>> day = period_of("2026-01-05", "2026-01-05")
        >>> Statement(lines=()).with_period(day).covers == day
        True
        """
        if self.period is not None and self.period != period:
            said = f"{_stamp(self.period[0])} - {_stamp(self.period[1])}"
            raise InvalidInput(
                f"the statement says it covers {said}, not {_stamp(period[0])} - {_stamp(period[1])}",
                field="statement",
            )
        return attrs.evolve(self, period=period)

    def by_receipt(self) -> dict[str, StatementLine]:
        return {line.receipt: line for line in self.lines}


def parse_statement(text: str) -> Statement:
    """Read a statement CSV (preamble lines, then the header row, then one row per transaction)."""
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as error:  # e.g. a field beyond the csv module's limit
        raise InvalidInput(f"not a readable CSV file: {error}", field="statement") from None
    start = next((i for i, row in enumerate(rows) if row and row[0].strip() == "Receipt No."), None)
    if start is None:
        raise InvalidInput("not an M-Pesa statement: no header row starting with 'Receipt No.'", field="statement")
    header = [name.strip() for name in rows[start]]
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise InvalidInput(f"the statement has no {', '.join(missing)} column", field="statement")
    meta = {row[0].strip().rstrip(":"): row[1].strip() for row in rows[:start] if len(row) >= 2}
    lines = tuple(
        _line(dict(zip(header, row, strict=False)), number)
        for number, row in enumerate(rows[start + 1 :], start=start + 2)
        if any(cell.strip() for cell in row)
    )
    return Statement(
        lines=lines,
        shortcode=meta.get("Short Code", ""),
        account=meta.get("Account", ""),
        period=_period(meta.get("Time Period", "")),
        digest=hashlib.sha256(text.lstrip("\ufeff").encode("utf-8")).hexdigest(),
    )


def _line(cells: dict[str, str], number: int) -> StatementLine:
    try:
        return StatementLine(
            receipt=mpesa_receipt(_required(cells, "Receipt No.")),  # as our payouts keep it (R13-12)
            completed_at=_time(_required(cells, "Completion Time")),
            initiated_at=_time(cells["Initiation Time"]) if cells.get("Initiation Time", "").strip() else None,
            details=cells.get("Details", "").strip(),
            status=_required(cells, "Transaction Status"),
            paid_in=_amount(cells.get("Paid In", "")),
            withdrawn=_amount(cells.get("Withdrawn", "")),
            balance=_amount(cells["Balance"]) if cells.get("Balance", "").strip() else None,
            reason_type=cells.get("Reason Type", "").strip(),
            other_party=cells.get("Other Party Info", "").strip(),
            linked_receipt=mpesa_receipt(cells.get("Linked Transaction ID")),
            account_no=cells.get("A/C No.", "").strip(),
        )
    except InvalidInput as error:
        raise InvalidInput(f"statement line {number}: {error.message}", field="statement") from None


def _required(cells: dict[str, str], name: str) -> str:
    value = cells.get(name, "").strip()
    if not value:
        raise InvalidInput(f"{name} is empty")
    return value


def _time(text: str) -> datetime:
    cleaned = text.strip()
    for layout in _TIME_FORMATS if cleaned.isascii() else ():  # strptime reads other scripts' digits too
        try:
            local = datetime.strptime(cleaned, layout)
        except ValueError:
            continue
        return _utc(local, text)
    raise InvalidInput(f"{text!r} is not a time such as 05-01-2026 14:00:00")


def _utc(local: datetime, text: str) -> datetime:
    """A Nairobi wall-clock time in UTC; ``InvalidInput`` outside the years 1000 to 9999 (at year 1 the conversion
    itself overflows: R13-4)."""
    moment = in_utc(local.replace(tzinfo=NAIROBI))
    if moment is None:
        raise InvalidInput(f"{text!r} is not a time within the years 1000 to 9999")
    return moment


_AMOUNT = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?", re.ASCII)
_INTEGER_DIGITS = 15  # a thousand trillion shillings: more than any account holds, sums of them stay exact


def shillings(text: str) -> Decimal | None:
    """An amount cell of a statement as ``Decimal`` shillings (sign kept), None when empty; ``InvalidInput`` for
    anything an export does not write: other characters than ASCII digits, ``,`` between groups of three, ``.``
    and a leading ``-``, more than two decimals or 15 digits before the point (``1e30``, ``1_000``, ``١٠٠``:
    Python's ``Decimal`` reads them all, R13-4).

    >>> shillings("-12,805.5"), shillings(" "), shillings("1000")
    (Decimal('-12805.5'), None, Decimal('1000'))
    """
    cleaned = text.strip()
    if not cleaned:
        return None
    if not _AMOUNT.fullmatch(cleaned):
        raise InvalidInput(f"{text!r} is not an amount in shillings and cents such as -5,000.00")
    whole = cleaned.lstrip("-").split(".")[0].replace(",", "").lstrip("0")
    if len(whole) > _INTEGER_DIGITS:
        raise InvalidInput(f"{text!r} is not an amount a statement holds (more than {_INTEGER_DIGITS} digits)")
    return Decimal(cleaned.replace(",", ""))


def _amount(text: str) -> Money:
    value = shillings(text)
    return Money.zero(KES) if value is None else Money.of(abs(value), KES)


_DAY_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")


def period_of(start: str, end: str) -> tuple[datetime, datetime]:
    """A statement period from its first and last moments as an operator writes them (Nairobi time, as the portal
    writes times; a day alone is that whole day): ``InvalidInput`` unless both read and the start is not after the end.

    >>> [t.isoformat() for t in period_of("2026-01-05", "05-01-2026 23:00:00")]
    ['2026-01-04T21:00:00+00:00', '2026-01-05T20:00:00+00:00']
    """
    first, last = _moment(start, field="from"), _moment(end, field="to", end_of_day=True)
    if first > last:
        raise InvalidInput("the statement period's start is after its end", field="from")
    return first, last


def _moment(text: str, *, field: str, end_of_day: bool = False) -> datetime:
    cleaned = text.strip()
    try:
        for layout in _DAY_FORMATS if cleaned.isascii() else ():
            try:
                day = datetime.strptime(cleaned, layout)
            except ValueError:
                continue
            return _utc(day.replace(hour=23, minute=59, second=59) if end_of_day else day, text)
        return _time(text)
    except InvalidInput as error:
        raise InvalidInput(f"{field}: {error.message}", field=field) from None


def _period(text: str) -> tuple[datetime, datetime] | None:
    start, separator, end = text.partition(" - ")
    if not separator:
        return None
    try:
        return period_of(start, end)
    except InvalidInput as error:
        raise InvalidInput(f"Time Period: {error.message}", field="statement") from None


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(NAIROBI).strftime(_TIME_FORMATS[0]) if moment is not None else ""


def _money(value: Money, *, negative: bool = False) -> str:
    """An amount cell: empty for zero, withdrawals written negative as the portal does."""
    return "" if value.is_zero() else f"{'-' if negative else ''}{value.amount}"


def render_statement(statement: Statement, *, holder: str = "") -> str:
    """The statement as the portal writes it (the sandbox exports its own record of what it paid this way)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Account Holder:", holder])
    writer.writerow(["Short Code:", statement.shortcode])
    writer.writerow(["Account:", statement.account or "Utility Account"])
    if statement.period is not None:
        writer.writerow(["Time Period:", f"{_stamp(statement.period[0])} - {_stamp(statement.period[1])}"])
    writer.writerow(COLUMNS)
    writer.writerows(_row(line) for line in statement.lines)
    return out.getvalue()


def _row(line: StatementLine) -> Sequence[str]:
    balance = "" if line.balance is None else str(line.balance.amount)
    return (
        line.receipt,
        _stamp(line.completed_at),
        _stamp(line.initiated_at),
        line.details,
        line.status,
        _money(line.paid_in),
        _money(line.withdrawn, negative=True),
        balance,
        "true" if line.balance is not None else "",
        line.reason_type,
        line.other_party,
        line.linked_receipt,
        line.account_no,
    )
