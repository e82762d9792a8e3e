"""Reports: a merchant's sales, fees (with the taxes on them) and settlements per Nairobi day or month.

``GET /v1/reports/{sales|fees|settlements}?period=day|month&from=YYYY-MM-DD&to=YYYY-MM-DD`` answers JSON, or CSV
(rows, then the totals) with ``format=csv`` or ``Accept: text/csv``. ``to`` is capped at today; ``from`` after
``to`` or after today is a 422 naming both days; more than 400 periods come a page at a time (``next_from``).
The report is the core's (``cryptopay.core.reports``): amounts are decimal strings per asset, taxes come from the
fee-tax data.
"""

from __future__ import annotations

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Money
from cryptopay.core.reports import Report
from cryptopay.core.reports.periods import DATE_PATTERN
from flask import Blueprint, Response, request

from cryptopay_http.auth import require
from cryptopay_http.convert import json_response
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import ACTING_MERCHANT, acting_merchant, payments
from cryptopay_http.query import MERCHANT_ID, Param, query

__all__ = ["ReportView", "bp"]

bp = Blueprint("reports", __name__)
_TAGS = ("reports",)
_DATE = {"type": "string", "pattern": DATE_PATTERN}
_PARAMS = (
    Param("period", {"type": "string", "enum": ["day", "month"]}, description="day (default) or month, in Nairobi"),
    Param(
        "from",
        _DATE,
        description="the first day as YYYY-MM-DD, years 1000 to 9999 (default: this month's first day; by month, a "
        "year back); not after `to` nor today (422)",
    ),
    Param("to", _DATE, description="the last day as YYYY-MM-DD, years 1000 to 9999, inclusive (at most: today)"),
    Param("format", {"type": "string", "enum": ["json", "csv"]}, description="csv: the same report as CSV"),
    MERCHANT_ID,
)
_CSV = "text/csv"


@attrs.frozen
class ReportView:
    """A report: ``columns``, then ``rows`` and per-asset ``totals`` whose values are strings (amounts as decimals)."""

    kind: str
    merchant_id: str
    period: str
    first_day: str
    last_day: str
    columns: list[str]
    rows: list[dict[str, str]]
    totals: list[dict[str, str]]
    tax_version: int | None = attrs.field(
        default=None, metadata={"description": "fees: the fee-tax data version in force on the first day"}
    )
    next_from: str | None = attrs.field(
        default=None, metadata={"description": "more periods than one report holds: ask again with from= this day"}
    )
    owed_by_merchant: Money | None = attrs.field(
        default=None,
        metadata={
            "description": (
                "settlements: what the merchant owed (KES) at the report's end (now, for a period not over yet) for "
                "refunds after settlement it funded, netted from its next settlements (zero when nothing); null on "
                "other reports. The CSV says it in its last row "
                "(`owed_by_merchant`)."
            )
        },
    )

    @classmethod
    def of(cls, r: Report) -> ReportView:
        return cls(
            r.kind,
            r.merchant_id,
            r.period,
            r.first.isoformat(),
            r.last.isoformat(),
            list(r.columns),
            [dict(row) for row in r.rows],
            [dict(row) for row in r.totals],
            r.tax_version,
            r.next_first.isoformat() if r.next_first else None,
            r.owed,
        )


def _render(kind: str) -> Response:
    merchant_id = acting_merchant(request.args.get("merchant_id"))
    report = payments().reports.report(
        kind,
        merchant_id,
        period=request.args.get("period", "day"),
        first=request.args.get("from"),
        last=request.args.get("to"),
    )
    wants = request.args.get("format")
    if wants is None:
        wants = "csv" if request.accept_mimetypes.best_match(["application/json", _CSV]) == _CSV else "json"
    if wants == "csv":
        name = f"{kind}-{merchant_id}-{report.first.isoformat()}-{report.last.isoformat()}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(report.as_csv(), mimetype=_CSV, headers=headers)
    return json_response(ReportView.of(report))


_ABOUT = "JSON, or CSV with format=csv or Accept: text/csv. Merchants see their own; admins name merchant_id."


@bp.get("/v1/reports/sales")
@operation(
    "Sales per day or month: confirmed payments, received, merchant fees, net (per asset)",
    response=ReportView,
    tags=_TAGS,
    description=(
        "For each day or month (Nairobi time) and asset: the confirmed payments counted, what they "
        "received, the merchant fees and the net credited; then totals per asset. "
    )
    + _ABOUT,
    errors=(404,),
    alternatives=(_CSV,),
    problems=(
        *ACTING_MERCHANT,
        (InvalidInput, "from or to is not a date as YYYY-MM-DD or period is not day or month"),
    ),
)
@require(scope="reports:read")
@query(*_PARAMS)
def sales_report() -> Response:
    return _render("sales")


@bp.get("/v1/reports/fees")
@operation(
    "Fees per day or month, product and asset, each tax on them and the fee net of tax",
    response=ReportView,
    tags=_TAGS,
    description=(
        "For each day or month, fee product (merchant fee, FX spread, payout charge) and asset: the fee, "
        "each tax on it (per the fee-tax version in force) and the fee net of tax; then totals. "
    )
    + _ABOUT,
    errors=(404,),
    alternatives=(_CSV,),
    problems=(
        *ACTING_MERCHANT,
        (InvalidInput, "from or to is not a date as YYYY-MM-DD or period is not day or month"),
    ),
)
@require(scope="reports:read")
@query(*_PARAMS)
def fees_report() -> Response:
    return _render("fees")


@bp.get("/v1/reports/settlements")
@operation(
    "Settlements per day or month: shillings credited, FX spread, paid out, charges, in flight, failed",
    response=ReportView,
    tags=_TAGS,
    description=(
        "For each day or month: the shillings credited by settlements, the FX spread, what was paid out "
        "and its M-Pesa charges, what is in flight and what failed; then totals; then what the merchant owed at the "
        "report's end (now, for a period not over yet) for refunds after settlement (`owed_by_merchant`; in the "
        "CSV a last row of that name, column `owed`). "
    )
    + _ABOUT,
    errors=(404,),
    alternatives=(_CSV,),
    problems=(
        *ACTING_MERCHANT,
        (InvalidInput, "from or to is not a date as YYYY-MM-DD or period is not day or month"),
    ),
)
@require(scope="reports:read")
@query(*_PARAMS)
def settlements_report() -> Response:
    return _render("settlements")
