"""The bank's own record: the statement of our settlement bank account (CSV), read strictly.

Kenyan banks' internet-banking exports (Equity, KCB, Co-operative, NCBA, Stanbic, Citi ...) differ in their
column names but carry the same five things; this is the one layout ``cryptopay reconcile --bank-statement`` reads.
A few ``Key:,value`` lines, then a header row, then one row per transaction:

====================  ========  ==================================================================================
line / column         needed    meaning
====================  ========  ==================================================================================
``Account Number:``   no        the account the statement is of (kept with the run's inputs)
``Period:``           yes       the days it covers, ``01-12-2026 - 07-12-2026`` (``to`` also read), Nairobi days
Date                  yes       the transaction date, ``DD-MM-YYYY`` (``DD/MM/YYYY``, ``YYYY-MM-DD``, ``07-Dec-2026``
                                also read); also named ``Transaction Date``, or ``Value Date`` when it is the only
                                date: beside a ``Transaction Date`` the ``Value Date`` is not read (R14-9)
Reference             yes       the bank's reference of the transfer (the one confirmed on the payout); also
                                ``Ref No.``, ``Reference No.``, ``Transaction Reference``
Narrative             no        free text; also ``Description``, ``Details``, ``Particulars``
Debit                 yes       money out (empty when none; ``-`` is none); also ``Withdrawals``, ``Money Out``
Credit                yes       money in (empty when none); also ``Deposits``, ``Money In``
Balance               no        the running balance; also ``Running Balance``, ``Book Balance``
====================  ========  ==================================================================================

Amounts are Kenya shillings (thousands separators allowed, at most two decimals), read as ``Decimal``, never
float, as the M-Pesa statement's (``shillings``: ASCII digits, ``,``, ``.``, ``-`` only, at most 15 digits before
the point); dates are within the years 1000 to 9999; a row with both a debit and a credit, or neither, is not a
transaction. Every bad row is an ``InvalidInput`` naming its line, and nothing is half-read. The period is the
``Period`` line's, never the first to the last row (review6 F3: a transfer missing from a statement could lie
outside its rows).

>>> text = render_bank_statement(BankStatement(account="0123456789", period=period_of("2026-12-01", "2026-12-07"),
...     lines=(BankLine(on=date(2026, 12, 3), reference="FT26337ABC", narrative="cryptopay po_1",
...                     debit=Money.of(90000, KES)),)))
>>> statement = parse_bank_statement(text)
>>> line = statement.lines[0]
>>> line.reference, str(line.debit), line.on.isoformat(), statement.account, len(statement.digest)
('FT26337ABC', '90000.00 KES', '2026-12-03', '0123456789', 64)
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from datetime import date, datetime

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation.statement import period_of, shillings
from cryptopay.core.system import NAIROBI

__all__ = ["BANK_COLUMNS", "BankLine", "BankStatement", "parse_bank_statement", "render_bank_statement"]

BANK_COLUMNS = ("Date", "Reference", "Narrative", "Debit", "Credit", "Balance")
_ALIASES = {
    "date": "Date",
    "transaction date": "Date",
    "value date": "Date",
    "reference": "Reference",
    "ref no.": "Reference",
    "ref no": "Reference",
    "reference no.": "Reference",
    "transaction reference": "Reference",
    "narrative": "Narrative",
    "description": "Narrative",
    "details": "Narrative",
    "particulars": "Narrative",
    "debit": "Debit",
    "withdrawals": "Debit",
    "money out": "Debit",
    "credit": "Credit",
    "deposits": "Credit",
    "money in": "Credit",
    "balance": "Balance",
    "running balance": "Balance",
    "book balance": "Balance",
}
_REQUIRED = ("Date", "Reference", "Debit", "Credit")
_IGNORED = ""  # a column not read (a Value Date beside the Transaction Date)
_DAY_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%d-%b-%Y", "%d %b %Y")
_FIELD = "bank_statement"


@attrs.frozen(kw_only=True)
class BankLine:
    """One statement row: money out of (``debit``) or into (``credit``) the account on a day."""

    on: date
    reference: str
    narrative: str = ""
    debit: Money = attrs.field(factory=lambda: Money.zero(KES))
    credit: Money = attrs.field(factory=lambda: Money.zero(KES))
    balance: Money | None = None


@attrs.frozen(kw_only=True)
class BankStatement:
    """A bank statement export: the account, the period it covers (Nairobi days, as UTC moments), its rows."""

    lines: tuple[BankLine, ...]
    period: tuple[datetime, datetime]
    account: str = ""
    digest: str = ""  # sha256 of the file's text as read (kept among the run's inputs, as the M-Pesa statement's)

    @property
    def debits(self) -> tuple[tuple[int, BankLine], ...]:
        """Every row that took money out, with its position in the file (from 1)."""
        return tuple((n, line) for n, line in enumerate(self.lines, start=1) if line.debit.is_positive())


def parse_bank_statement(text: str) -> BankStatement:
    """Read a bank statement CSV (``Key:,value`` lines, the header row, one row per transaction); ``InvalidInput``
    naming the line of the first row that cannot be read."""
    body = text.lstrip("\ufeff")
    try:
        rows = list(csv.reader(io.StringIO(body)))
    except csv.Error as error:
        raise InvalidInput(f"bank statement: not a readable CSV file: {error}", field=_FIELD) from None
    start = next((i for i, row in enumerate(rows) if _is_header(row)), None)
    if start is None:
        raise InvalidInput(
            "not a bank statement: no header row with Date, Reference, Debit and Credit columns", field=_FIELD
        )
    header = _header(rows[start])
    meta = {row[0].strip().rstrip(":").lower(): row[1].strip() for row in rows[:start] if len(row) >= 2}
    lines = tuple(
        _line(row, header, number)
        for number, row in enumerate(rows[start + 1 :], start=start + 2)
        if any(cell.strip() for cell in row)
    )
    return BankStatement(
        lines=lines,
        period=_period(meta.get("period") or meta.get("statement period") or ""),
        account=meta.get("account number") or meta.get("account") or "",
        digest=hashlib.sha256(body.encode("utf-8")).hexdigest(),
    )


def _header(row: Sequence[str]) -> list[str]:
    """The header row's names as read (``_ALIASES``). A ``Value Date`` beside a ``Transaction Date`` (the usual Kenyan
    export, R14-9) is not read: the transaction date is the debit's day. Two columns meaning one thing otherwise are
    refused, naming both."""
    written = [name.strip() for name in row]
    names = [_ALIASES.get(name.lower(), name) for name in written]
    if names.count("Date") > 1:
        names = [_IGNORED if name.lower() == "value date" else read for name, read in zip(written, names, strict=True)]
    for read in set(names) - {_IGNORED}:
        both = [name for name, meaning in zip(written, names, strict=True) if meaning == read]
        if len(both) > 1:
            raise InvalidInput(
                f"bank statement: the columns {' and '.join(repr(n) for n in both)} both mean {read}: remove one",
                field=_FIELD,
            )
    return names


def _is_header(row: Sequence[str]) -> bool:
    names = {_ALIASES.get(cell.strip().lower(), "") for cell in row}
    return all(name in names for name in _REQUIRED)


def _line(row: Sequence[str], header: Sequence[str], number: int) -> BankLine:
    try:
        if len(row) != len(header):
            raise InvalidInput(f"{len(row)} cells, the header has {len(header)}")
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        line = BankLine(
            on=_day(cells["Date"]),
            reference=_reference(cells["Reference"]),
            narrative=cells.get("Narrative", ""),
            debit=_amount(cells["Debit"], "Debit"),
            credit=_amount(cells["Credit"], "Credit"),
            balance=_amount(cells["Balance"], "Balance", signed=True) if cells.get("Balance") else None,
        )
        if line.debit.is_positive() == line.credit.is_positive():
            raise InvalidInput("a row is a debit or a credit: exactly one of the two amounts")
        return line
    except InvalidInput as error:
        raise InvalidInput(f"bank statement line {number}: {error.message}", field=_FIELD) from None


def _reference(text: str) -> str:
    if not text:
        raise InvalidInput("Reference is empty")
    return text


def _day(text: str) -> date:
    for layout in _DAY_FORMATS if text.isascii() else ():  # strptime reads other scripts' digits too
        try:
            day = datetime.strptime(text, layout).date()
        except ValueError:
            continue
        if not 1000 <= day.year <= 9999:  # as the period's days (R13-4)
            raise InvalidInput(f"{text!r} is not a date within the years 1000 to 9999")
        return day
    raise InvalidInput(f"{text!r} is not a date such as 03-12-2026")


def _amount(text: str, column: str, *, signed: bool = False) -> Money:
    """An amount cell in shillings (``shillings``): empty (or ``-``) is none; a debit written negative is read as
    its magnitude."""
    if text == "-":
        return Money.zero(KES)
    try:
        value = shillings(text)
    except InvalidInput as error:
        raise InvalidInput(f"{column} {error.message}") from None
    if value is None:
        return Money.zero(KES)
    return Money.of(value if signed else abs(value), KES)


def _period(text: str) -> tuple[datetime, datetime]:
    start, separator, end = text.partition(" - ")
    if not separator:
        start, separator, end = text.partition(" to ")
    if not separator:
        raise InvalidInput(
            "bank statement: no Period line (e.g. 'Period:,01-12-2026 - 07-12-2026'): the days it covers are "
            "never guessed from its rows",
            field=_FIELD,
        )
    try:
        return period_of(start, end)
    except InvalidInput as error:
        raise InvalidInput(f"bank statement Period: {error.message}", field=_FIELD) from None


def _money(value: Money, *, negative: bool = False) -> str:
    return "" if value.is_zero() else f"{'-' if negative else ''}{value.amount}"


def render_bank_statement(statement: BankStatement) -> str:
    """The statement in the layout ``parse_bank_statement`` reads (tests and the sandbox write it this way)."""
    first, last = (moment.astimezone(NAIROBI).strftime("%d-%m-%Y") for moment in statement.period)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Account Number:", statement.account])
    writer.writerow(["Period:", f"{first} - {last}"])
    writer.writerow(BANK_COLUMNS)
    writer.writerows(
        (
            line.on.strftime("%d-%m-%Y"),
            line.reference,
            line.narrative,
            _money(line.debit),
            _money(line.credit),
            "" if line.balance is None else str(line.balance.amount),
        )
        for line in statement.lines
    )
    return out.getvalue()
