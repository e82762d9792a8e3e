"""``cryptopay invoices``: list invoices (by merchant and state), show one with its options and payments, cancel one.

``cancel`` exits 4 when the invoice has received a payment or is no longer new (refund it instead).
"""

from __future__ import annotations

import typer
from cryptopay.core.invoices import InvoiceState

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes
from cryptopay_cli.views import flat, invoice_view

app = typer.Typer(help="Invoices: list, show and cancel.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_COLUMNS = ["id", "merchant_id", "state", "exception", "price", "order_id", "created_at", "expires_at"]


@app.command("list")
def list_invoices(
    merchant: str | None = typer.Option(None, "--merchant", help="Only this merchant's invoices."),
    state: InvoiceState | None = typer.Option(None, "--state", help="Only invoices in this state."),
    as_json: bool = _JSON,
) -> None:
    """Invoices of one merchant or of all, optionally in one state."""
    with errors_to_exit_codes():
        views = [invoice_view(i) for i in services().listings.each_invoice(merchant, state)]
    if as_json:
        emit_json({"invoices": views})
    else:
        emit_table([flat(v) for v in views], _COLUMNS)


@app.command("show")
def show(invoice_id: str = typer.Argument(..., help="The invoice id."), as_json: bool = _JSON) -> None:
    """One invoice: state, price, what is due on each rail, and every payment seen (exit 3 if unknown)."""
    with errors_to_exit_codes():
        invoice = services().invoicing.get_invoice(invoice_id)
    view = invoice_view(invoice, detail=True)
    if as_json:
        emit_json(view)
        return
    emit_table([{"field": k, "value": v} for k, v in flat(view).items()], ["field", "value"])
    typer.echo("")
    emit_table([flat(o) for o in view["options"]], ["rail", "address", "due"])
    if view["payments"]:
        typer.echo("")
        emit_table([flat(p) for p in view["payments"]], ["rail", "tx_hash", "amount", "confirmations", "late"])


@app.command("cancel")
def cancel(
    invoice_id: str = typer.Argument(..., help="The invoice id."),
    actor: str | None = typer.Option(None, "--actor", help="Who asks, for the audit log (default: ops:<login>)."),
    as_json: bool = _JSON,
) -> None:
    """Cancel an invoice that has received nothing; a payment that still comes is credited late and refundable."""
    with errors_to_exit_codes():
        invoice = services().invoicing.cancel_invoice(invoice_id, actor=operator(actor))
    view = invoice_view(invoice)
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"invoice {invoice.id} is {invoice.state.value}")
