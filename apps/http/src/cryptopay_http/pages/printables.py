"""What the PDFs say, in the reader's language: the core's results as ``Printable`` documents, drawn by the one
renderer of ``Services.pdf`` (``cryptopay.adapters.pdf``). Texts are ``_()`` calls that ``make translations``
extracts into the catalogues, like the templates' (Swahili is checked by the same test).

- ``wallet_statement``: a personal wallet's month (``/app/statement?format=pdf``, ``/v1/wallet/statements/<month>``);
- ``merchant_statement``: a merchant's month (sales and settlements per day, fees per product);
- ``tax_report``: a merchant's fees per month with each tax on them (the fee-tax data's version named);
- ``till_poster``: a "Scan to pay" poster for a till, a QR code of a payment link or of the store's pay page.

>>> pdf_filename("cryptopay statement", "2026-03")
'cryptopay-statement-2026-03.pdf'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cryptopay.core.printing import Facts, Heading, Layout, Paragraph, Printable, QrCode, Table
from cryptopay.core.reports import Report
from cryptopay.core.system import NAIROBI
from cryptopay.core.wallets.history import HistoryLine, StatementBalance, reference
from flask import Response

from cryptopay_http.pages.i18n import described, money, placed, placed_money
from cryptopay_http.pages.i18n import gettext as _
from cryptopay_http.runtime import runtime

__all__ = ["merchant_statement", "pdf_filename", "pdf_response", "tax_report", "till_poster", "wallet_statement"]

_NUMERIC = {
    "payments",
    "received",
    "fees",
    "net",
    "excise_duty",
    "vat",
    "net_of_tax",
    "settlements",
    "credited",
    "fx_spread",
    "paid_out",
    "payout_charges",
    "in_flight",
    "failed",
}


def _column(name: str) -> str:
    """A report column's heading, translated (the CSV keeps the column names of the API)."""
    labels = {
        "period": _("Period"),
        "asset": _("Asset"),
        "payments": _("Payments"),
        "received": _("Received"),
        "fees": _("Fees"),
        "net": _("Net"),
        "product": _("Product"),
        "excise_duty": _("Excise duty"),
        "vat": _("VAT"),
        "net_of_tax": _("Fee net of tax"),
        "settlements": _("Settlements"),
        "credited": _("KES credited"),
        "fx_spread": _("FX spread"),
        "paid_out": _("Paid out"),
        "payout_charges": _("Payout charges"),
        "in_flight": _("In flight"),
        "failed": _("Failed"),
    }
    return labels.get(name, name.replace("_", " "))


def _product(name: str) -> str:
    labels = {"merchant_fee": _("Merchant fee"), "payout_charge": _("Payout charge"), "fx_spread": _("FX spread")}
    return labels.get(name, name)


def report_table(report: Report, caption: str = "") -> Table:
    """A core report as a table: its rows, then its totals (period ``total``, translated)."""
    rows = []
    for row in (*report.rows, *report.totals):
        cells = []
        for column in report.columns:
            value = row.get(column, "")
            if column == "period" and value == "total":
                value = _("Total")
            elif column == "product":
                value = _product(value)
            cells.append(value)
        rows.append(tuple(cells))
    columns = tuple(_column(c) for c in report.columns)
    numeric = frozenset(_column(c) for c in report.columns if c in _NUMERIC)
    return Table(columns, tuple(rows), numeric=numeric, caption=caption)


def _footer() -> str:
    printed = runtime().services.clock.now().astimezone(NAIROBI)
    return _("cryptopay · printed %(when)s (Nairobi time)") % {"when": f"{printed:%Y-%m-%d %H:%M}"}


def wallet_statement(
    lines: Iterable[HistoryLine], month: str, holder: str, balances: Iterable[StatementBalance] = ()
) -> Printable:
    """A wallet's month: each balance's opening and closing, then the movements oldest first (date, asset, amount,
    balance after, what it was, reference with M-Pesa's receipt when known); every amount at its asset's places, as
    the CSV and the API give it (R14-3)."""
    oldest_first = list(lines)[::-1]  # ``lines`` come newest first; a stable sort keeps ties in ledger order
    ordered = sorted(oldest_first, key=lambda h: h.at)
    columns = (_("Date"), _("Asset"), _("Amount"), _("Balance after"), _("Description"), _("Reference"))
    rows = tuple(
        (
            f"{h.at.astimezone(NAIROBI):%Y-%m-%d %H:%M}",
            h.amount.asset.code,
            placed(h.amount),
            placed(h.balance_after),
            described(h, placed_money) or h.kind,
            reference(h),
        )
        for h in ordered
    )
    blocks: list[Heading | Paragraph | Facts | Table] = [
        Facts(((_("Wallet"), holder), (_("Month"), month), (_("Movements"), str(len(rows))))),
    ]
    held = list(balances)
    if held:
        opened = _("Opening balance (%(when)s)") % {"when": f"{held[0].opened_at.astimezone(NAIROBI):%Y-%m-%d %H:%M}"}
        closed = _("Closing balance (%(when)s)") % {"when": f"{held[0].closed_at.astimezone(NAIROBI):%Y-%m-%d %H:%M}"}
        ends = tuple((b.opening.asset.code, placed(b.opening), placed(b.closing)) for b in held)
        blocks.append(Table((_("Asset"), opened, closed), ends, numeric=frozenset({opened, closed})))
    if rows:
        blocks.append(Table(columns, rows, numeric=frozenset({_("Amount"), _("Balance after")})))
    else:
        blocks.append(Paragraph(_("No movement this month.")))
    return Printable(_("Wallet statement"), month, tuple(blocks), _footer(), Layout.LANDSCAPE)


def merchant_statement(merchant: str, month: str, sales: Report, fees: Report, settled: Report) -> Printable:
    """A merchant's month: sales per day and asset, fees per product (with their taxes), settlements per day."""
    blocks = (
        Facts(((_("Merchant"), merchant), (_("Month"), month), (_("Days"), f"{sales.first} - {sales.last}"))),
        Heading(_("Sales")),
        report_table(sales) if sales.rows else Paragraph(_("No sales this month.")),
        Heading(_("Fees")),
        report_table(fees) if fees.rows else Paragraph(_("No fees this month.")),
        Heading(_("Settlements and payouts")),
        report_table(settled) if settled.rows else Paragraph(_("No settlement this month.")),
        *_owed(settled),
    )
    return Printable(_("Monthly statement"), month, blocks, _footer(), Layout.LANDSCAPE)


def _owed(settled: Report) -> tuple[Facts, Paragraph] | tuple[()]:
    """What the merchant owed for refunds after settlement (R25) at the statement's end (as it is drawn, for a month
    not over yet), and how it is repaid."""
    if settled.owed is None:
        return ()
    day = min(runtime().services.clock.now().astimezone(NAIROBI).date(), settled.last).isoformat()
    label = _("You owe for refunds after settlement (on %(day)s)") % {"day": day}
    about = _("Refunds you made after your crypto was settled, funded on credit: netted from your next settlements.")
    return Facts(((label, money(settled.owed)),)), Paragraph(about)


def tax_report(merchant: str, year: str, fees: Report) -> Printable:
    """A merchant's fees per month of ``year`` and the taxes contained in them."""
    about = _("Taxes on cryptopay's fees, from the fee-tax data version %(version)s in force on %(day)s.") % {
        "version": str(fees.tax_version or "-"),
        "day": fees.first.isoformat(),
    }
    blocks = (
        Facts(((_("Merchant"), merchant), (_("Year"), year), (_("Days"), f"{fees.first} - {fees.last}"))),
        Paragraph(about),
        report_table(fees) if fees.rows else Paragraph(_("No fees this year.")),
    )
    return Printable(_("Tax report"), year, blocks, _footer(), Layout.LANDSCAPE)


def till_poster(merchant: str, url: str, what: str, price: str | None) -> Printable:
    """A poster for a till: the merchant's name, what is paid for (and its price), a large QR code of ``url``."""
    blocks: list[Heading | Paragraph | QrCode] = [Heading(what)]
    if price:
        blocks.append(Paragraph(price))
    blocks += [
        QrCode(url, url),
        Paragraph(_("Open your phone's camera and point it at the code. Pay with USDT or Bitcoin from any wallet.")),
    ]
    return Printable(_("Scan to pay"), merchant, tuple(blocks), _footer(), Layout.POSTER)


def pdf_filename(*parts: str) -> str:
    """A download's file name from its parts (letters, digits and dashes only)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", "-".join(parts)).strip("-").lower() + ".pdf"


def pdf_response(document: Printable, filename: str) -> Response:
    """The document drawn as a PDF download."""
    body = runtime().services.pdf.render(document)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    return Response(body, mimetype="application/pdf", headers=headers)
