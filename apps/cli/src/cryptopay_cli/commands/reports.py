"""``cryptopay reports``: a merchant's sales, fees (with the taxes on them) and settlements per day or month.

Tables by default, ``--json`` (the same report the API serves) or ``--csv`` (a monthly statement's rows).
Exit codes: 2 for a bad period or date, 3 for an unknown merchant.
"""

from __future__ import annotations

from typing import Any

import typer
from cryptopay.core.reports import Report

from cryptopay_cli.context import services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes
from cryptopay_cli.views import money

app = typer.Typer(help="Merchant reports: sales, fees and taxes, settlements per day or month.", no_args_is_help=True)

_MERCHANT = typer.Option(..., "--merchant", help="The merchant's id.")
_PERIOD = typer.Option("day", "--period", help="day or month.")
_FROM = typer.Option(None, "--from", help="First date, YYYY-MM-DD (default: the month's first day; by month, a year).")
_TO = typer.Option(None, "--to", help="Last date, YYYY-MM-DD (default: today, Nairobi).")
_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_CSV = typer.Option(False, "--csv", help="Print CSV (rows, then totals) instead of a table.")


def report_json(report: Report) -> dict[str, Any]:
    """The JSON form shared with the API: amounts as decimal strings."""
    return {
        "kind": report.kind,
        "merchant_id": report.merchant_id,
        "period": report.period,
        "first_day": report.first.isoformat(),
        "last_day": report.last.isoformat(),
        "columns": list(report.columns),
        "rows": list(report.rows),
        "totals": list(report.totals),
        "tax_version": report.tax_version,
        "next_from": report.next_first.isoformat() if report.next_first else None,
        "owed_by_merchant": money(report.owed),
    }


def _show(
    kind: str, merchant: str, period: str, first: str | None, last: str | None, as_json: bool, as_csv: bool
) -> None:
    with errors_to_exit_codes():
        services().listings.merchant_ids(merchant)  # NotFound (exit 3) for a merchant without a store
        report = services().reports.report(kind, merchant, period=period, first=first, last=last)
    if as_csv:
        typer.echo(report.as_csv(), nl=False)
    elif as_json:
        emit_json(report_json(report))
    else:
        emit_table([*report.rows, *report.totals], report.columns)
        if report.owed is not None:
            typer.echo(f"owed by the merchant for refunds after settlement: {report.owed}")


@app.command("sales")
def sales(
    merchant: str = _MERCHANT,
    period: str = _PERIOD,
    first: str | None = _FROM,
    last: str | None = _TO,
    as_json: bool = _JSON,
    as_csv: bool = _CSV,
) -> None:
    """Confirmed payments per period and asset: received, merchant fees, net."""
    _show("sales", merchant, period, first, last, as_json, as_csv)


@app.command("fees")
def fees(
    merchant: str = _MERCHANT,
    period: str = _PERIOD,
    first: str | None = _FROM,
    last: str | None = _TO,
    as_json: bool = _JSON,
    as_csv: bool = _CSV,
) -> None:
    """Fees per period, product and asset, each tax on them (from the fee-tax data) and the fee net of tax."""
    _show("fees", merchant, period, first, last, as_json, as_csv)


@app.command("settlements")
def settlements(
    merchant: str = _MERCHANT,
    period: str = _PERIOD,
    first: str | None = _FROM,
    last: str | None = _TO,
    as_json: bool = _JSON,
    as_csv: bool = _CSV,
) -> None:
    """Settlements per period: shillings credited, FX spread, paid out, payout charges, in flight, failed."""
    _show("settlements", merchant, period, first, last, as_json, as_csv)
