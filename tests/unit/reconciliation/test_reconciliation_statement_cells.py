"""reviewer13 R13-4: an amount or a date a statement export never writes is refused naming its line, never a 500.

Before, a Withdrawn of ``1e30`` (or 29 digits) raised ``decimal.InvalidOperation`` and a period in year 1 an
``OverflowError`` (a 500 on the API and the console, a traceback from the CLI); ``1_000`` and Arabic-Indic digits
were read as amounts. The M-Pesa and the bank statement parsers share the cell rules (``shillings``, years 1000 to
9999), so each case runs through both."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation import parse_bank_statement, parse_statement, period_of
from hypothesis import given, settings
from hypothesis import strategies as st

MPESA_HEADER = "Receipt No.,Completion Time,Transaction Status,Paid In,Withdrawn,Reason Type,Other Party Info"
BANK_HEADER = "Date,Reference,Narrative,Debit,Credit,Balance"


def _csv(*cells: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def _mpesa(withdrawn: str, *, time: str = "05-01-2026 14:00:00", period: str = "") -> str:
    head = f"Time Period:,{period}\n" if period else ""
    return f"{head}{MPESA_HEADER}\n" + _csv("SBX1", time, "Completed", "", withdrawn, "Business Payment", "x")


def _bank(debit: str, *, day: str = "03-01-2026", period: str = "01-01-2026 - 31-01-2026") -> str:
    return f"Period:,{period}\n{BANK_HEADER}\n" + _csv(day, "FT1", "x", debit, "", "")


BAD_AMOUNTS = [
    "1e30",
    "1E3",
    "99999999999999999999999999999",  # 29 digits: beyond the decimal context (InvalidOperation before)
    "1000000000000000.00",  # 16 digits before the point
    "1_000",
    "\u0661\u0660\u0660",  # Arabic-Indic 100
    "\uff11\uff10",  # fullwidth 10
    "1,00",
    "--5",
    "+5",
    "5-",
    "Infinity",
    "0x10",
    "12.",
    ".5",
]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_an_amount_no_export_writes_is_refused_naming_its_line(amount: str) -> None:
    """Both parsers: ``InvalidInput`` naming the row's line in the file and the cell ("is not an amount")."""
    with pytest.raises(InvalidInput, match=r"statement line 2: .*is not an amount"):
        parse_statement(_mpesa(amount))
    with pytest.raises(InvalidInput, match=r"bank statement line 3: Debit .*is not an amount"):
        parse_bank_statement(_bank(amount))


def test_the_amounts_exports_write_are_read_exactly() -> None:
    """Separators between groups of three, a sign, one or two decimals, 15 digits before the point."""
    read = {
        text: parse_statement(_mpesa(text)).lines[0].withdrawn
        for text in ("-5,000.00", "5000", "1,234,567.5", "0.01", "999999999999999.99")
    }
    assert read == {
        "-5,000.00": Money.of("5000", KES),
        "5000": Money.of("5000", KES),
        "1,234,567.5": Money.of("1234567.50", KES),
        "0.01": Money.of("0.01", KES),
        "999999999999999.99": Money.of(Decimal("999999999999999.99"), KES),
    }
    assert parse_bank_statement(_bank("-1,000.50")).lines[0].debit == Money.of("1000.50", KES)


@pytest.mark.parametrize(
    ("period", "row"),
    [
        ("01-01-0001 00:00:00 - 07-12-2026 23:59:59", ""),
        ("01-01-2026 00:00:00 - 31-12-9999 23:59:59", "31-12-9999 23:59:59"),  # the row's Nairobi time is fine
        ("", "01-01-0001 00:00:00"),
        ("", "\u0660\u0665-01-2026 14:00:00"),  # Arabic-Indic day
    ],
)
def test_an_mpesa_time_outside_the_years_1000_to_9999_is_refused(period: str, row: str) -> None:
    text = _mpesa("-10.00", time=row or "05-01-2026 14:00:00", period=period)
    if row == "31-12-9999 23:59:59":
        assert parse_statement(text).lines[0].completed_at.year == 9999
        return
    with pytest.raises(InvalidInput) as refused:
        parse_statement(text)
    assert refused.value.details["field"] == "statement"
    assert ("Time Period: " if period else "statement line ") in refused.value.message


def test_a_bank_period_or_day_in_year_1_is_refused_and_the_cli_period_too() -> None:
    with pytest.raises(InvalidInput, match="bank statement Period: from: '01-01-0001' is not a time within"):
        parse_bank_statement(_bank("10.00", period="01-01-0001 - 07-12-2026"))
    with pytest.raises(InvalidInput, match="line 3: '01-01-0001' is not a date within the years 1000 to 9999"):
        parse_bank_statement(_bank("10.00", day="01-01-0001"))
    with pytest.raises(InvalidInput, match="to: '31-12-99999' is not a time") as refused:
        period_of("2026-01-01", "31-12-99999")
    assert refused.value.details["field"] == "to"
    assert parse_bank_statement(_bank("10.00", day="31-12-9999")).lines[0].on == date(9999, 12, 31)


_ANY_CELL = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"-?[0-9,._]{0,32}", fullmatch=True),
    st.decimals().map(str),  # exponents, NaN, Infinity, 30 digits
    st.integers(-(10**40), 10**40).map(str),
)
_ANY_TIME = st.one_of(
    st.text(max_size=30),
    st.builds(
        "{:02d}-{:02d}-{:04d}{}".format,
        st.integers(0, 32),
        st.integers(0, 13),
        st.integers(0, 99999),
        st.sampled_from(["", " 00:00:00", " 23:59:59", " 2:0:0"]),
    ),
)


@given(amount=_ANY_CELL, day=_ANY_TIME)
@settings(max_examples=300, deadline=None)
def test_any_text_in_an_amount_or_date_cell_is_read_or_refused_as_input(amount: str, day: str) -> None:
    """Whatever one amount, time, day or period cell holds (the others read): read, or ``InvalidInput``."""
    for parse, text in (
        (parse_statement, _mpesa(amount)),
        (parse_statement, _mpesa("-10.00", time=day)),
        (parse_statement, _mpesa("-10.00", period=f"{day} - 07-12-2026 23:59:59")),
        (parse_bank_statement, _bank(amount)),
        (parse_bank_statement, _bank("10.00", day=day)),
        (parse_bank_statement, _bank("10.00", period=f"{day} - 31-12-2026")),
    ):
        with contextlib.suppress(InvalidInput):
            parse(text)
