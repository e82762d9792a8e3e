"""``cryptopay invoices``: list invoices (by merchant and state), show one with its options and payments, cancel one;
payments sent on the wrong EVM network: list them and accept one into its invoice.

``cancel`` exits 4 when the invoice has received a payment or is no longer new (refund it instead);
``accept-wrong-network`` exits 4 unless the payment is pending, 5 when it cannot be taken (another asset, a network
without a hot wallet).
"""

from __future__ import annotations

from typing import Any

import typer
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.payments.wrong_network import WrongNetworkPayment, WrongNetworkState

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes
from cryptopay_cli.views import emit_fields, flat, invoice_view

app = typer.Typer(help="Invoices: list, show and cancel; wrong-network payments.", no_args_is_help=True)

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
    with errors_to_exit_codes():
        wrong = services().detection.wrong_network_payments(invoice_id=invoice.id)
    view["wrong_network_payments"] = [wrong_network_view(p) for p in wrong]
    if as_json:
        emit_json(view)
        return
    emit_fields(view)
    typer.echo("")
    emit_table([flat(o) for o in view["options"]], ["rail", "address", "due"])
    if view["payments"]:
        typer.echo("")
        emit_table([flat(p) for p in view["payments"]], ["rail", "tx_hash", "amount", "confirmations", "late"])
    if view["wrong_network_payments"]:
        typer.echo("")
        emit_table(view["wrong_network_payments"], _WRONG_COLUMNS)


@app.command("cancel")
def cancel(
    invoice_id: str = typer.Argument(..., help="The invoice id."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
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


_WRONG_COLUMNS = ["id", "invoice_id", "state", "wrong", "rail", "amount", "tx_hash", "confirmations", "invoice_rails"]


def wrong_network_view(payment: WrongNetworkPayment) -> dict[str, Any]:
    """A wrong-network payment as the CLI prints it (amounts as strings)."""
    transfer = payment.transfer
    return {
        "id": payment.id,
        "invoice_id": payment.invoice_id,
        "merchant_id": payment.merchant_id,
        "state": payment.state.value,
        "wrong": payment.wrong,
        "rail": payment.rail_key,
        "amount": f"{transfer.amount.amount} {transfer.amount.asset.code}",
        "tx_hash": transfer.tx_hash,
        "log_index": transfer.index,
        "from_address": transfer.from_address,
        "confirmations": payment.confirmations,
        "invoice_rails": ",".join(payment.invoice_rails),
        "seen_at": payment.seen_at.isoformat(),
        "decided_by": payment.decided_by,
        "reason": payment.reason,
        "refund_id": payment.refund_id,
    }


@app.command("wrong-network")
def wrong_network(
    invoice: str | None = typer.Option(None, "--invoice", help="Only this invoice's (oldest first)."),
    merchant: str | None = typer.Option(None, "--merchant", help="Only this merchant's."),
    state: WrongNetworkState | None = typer.Option(None, "--state", help="Only those in this state."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many (newest first)."),
    as_json: bool = _JSON,
) -> None:
    """Payments sent to an invoice's address on an EVM network it did not ask for: never credited by themselves;
    ``pending`` ones wait for a decision (accept-wrong-network, or ``refunds wrong-network`` to send them back)."""
    with errors_to_exit_codes():
        found = services().detection.wrong_network_payments(
            invoice_id=invoice, merchant_id=merchant, state=state, limit=limit
        )
    views = [wrong_network_view(p) for p in found]
    if as_json:
        emit_json({"wrong_network_payments": views})
    else:
        emit_table(views, _WRONG_COLUMNS)


@app.command("accept-wrong-network")
def accept_wrong_network(
    payment_id: str = typer.Argument(..., help="The wrong-network payment id (wnp_...)."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    as_json: bool = _JSON,
) -> None:
    """Take a pending wrong-network payment into its invoice at the invoice's terms: the invoice offers that
    network's rail, and the payment is confirmed at that network's depth and credited like any other."""
    with errors_to_exit_codes():
        payment = services().detection.accept_wrong_network(payment_id, actor=operator(actor))
    view = wrong_network_view(payment)
    if as_json:
        emit_json(view)
    else:
        typer.echo(
            f"wrong-network payment {payment.id} is {payment.state.value}: invoice {payment.invoice_id} counts it"
        )
