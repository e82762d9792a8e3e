"""``cryptopay refunds``: refund (part of) what an invoice received, list an invoice's refunds, show one.

``create`` holds the amount from the merchant's balance and records the refund; the worker's ``refunds.send`` job
broadcasts it from the network's hot wallet. Exit 2 for a bad address or amount, 3 for an unknown invoice, 5 when
the invoice is still open or the amount exceeds what it received less earlier refunds (on a remittance order's
invoice also less what the desk kept as revenue, named in the message, and the price a paid-out order took).

A closed merchant's invoice (``merchants close``) is refunded only with ``--closed-merchant REASON``: returning its
customers' money is often what closing needs, so an operator may, but says so (the reason is kept on the
``refund.request`` audit record); without it, exit 5 (``merchant_closed``); with it on an open merchant's, exit 2.
A wrong-network payment (``wrong-network``) is the payer's money, never the merchant's: it goes back either way.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Money, asset_by_code

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes
from cryptopay_cli.views import emit_fields, flat, refund_view

app = typer.Typer(
    help="Refunds: create one for an invoice or a wrong-network payment, list an invoice's, show one.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_COLUMNS = ["id", "invoice_id", "state", "rail", "amount", "requested", "address", "tx_hash", "created_at"]


def _amount(amount: str | None, currency: str | None) -> Money | None:
    if amount is None:
        if currency is not None:
            raise InvalidInput("--currency goes with --amount")
        return None
    if currency is None:
        raise InvalidInput("--amount needs --currency (the rail's asset, e.g. USDT, or the invoice's KES)")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise InvalidInput(f"--amount {amount!r} is not a decimal number") from None
    return Money.of(value, asset_by_code(currency.strip().upper()))


@app.command("create")
def create(
    invoice_id: str = typer.Argument(..., help="The invoice to refund."),
    address: str = typer.Option(..., "--address", help="The customer's address on the rail's network."),
    amount: str | None = typer.Option(None, "--amount", help="How much (default: what is owed beyond the price)."),
    currency: str | None = typer.Option(None, "--currency", help="The rail's asset (USDT) or the invoice's (KES)."),
    rail: str | None = typer.Option(None, "--rail", help="e.g. usdt-tron (default: the rail the invoice was paid on)."),
    quote_id: str | None = typer.Option(
        None, "--quote", help="A live quote from `fx quote --merchant` (the invoice's merchant), used once."
    ),
    fund: bool = typer.Option(
        False,
        "--fund-after-settlement",
        help="What the merchant's balance no longer covers (settled) is owed by it, netted from its next settlements.",
    ),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    closed_merchant: str | None = typer.Option(
        None,
        "--closed-merchant",
        help="Why a closed merchant's invoice is refunded (required for one, refused for an open one; audited).",
    ),
    as_json: bool = _JSON,
) -> None:
    """Hold and record a refund; the worker sends it (a KES amount is converted at a locked quote, kept on it).
    A closed merchant's invoice needs --closed-merchant REASON (exit 5 without it, 2 with it on an open one)."""
    with errors_to_exit_codes():
        refund = services().refunds.refund(
            invoice_id,
            address=address,
            requested_by=operator(actor),
            rail=rail,
            amount=_amount(amount, currency),
            quote_id=quote_id,
            closed_merchant=closed_merchant,
            fund_after_settlement=fund,
        )
    view = refund_view(refund)
    if as_json:
        emit_json(view)
    else:
        typer.echo(
            f"refund {refund.id}: {refund.amount} to {refund.address} on {refund.rail_key}, held; sent by the worker"
        )


@app.command("wrong-network")
def wrong_network(
    payment_id: str = typer.Argument(..., help="The wrong-network payment (wnp_..., from `invoices wrong-network`)."),
    address: str | None = typer.Option(
        None, "--address", help="Where to send it (default: the address that paid it); another needs --reason."
    ),
    reason: str = typer.Option(
        "", "--reason", help="Why it goes to another address than the one that paid (audited: the payer's proof)."
    ),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    as_json: bool = _JSON,
) -> None:
    """Send a payment made on the wrong EVM network (or of the wrong asset) back whole to the address that paid it,
    never from the merchant's balance (exit 5 until it is as deep as its network asks, or for another address
    without --reason; 4 unless it is pending or its last refund failed); the worker sends it."""
    with errors_to_exit_codes():
        refund = services().refunds.refund_wrong_network(
            payment_id, address=address, redirect_reason=reason, requested_by=operator(actor)
        )
    view = refund_view(refund)
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"refund {refund.id}: {refund.amount} to {refund.address} on {refund.rail_key}; sent by the worker")


@app.command("list")
def list_refunds(
    invoice_id: str = typer.Argument(..., help="The invoice whose refunds to list."), as_json: bool = _JSON
) -> None:
    """The invoice's refunds, newest first."""
    with errors_to_exit_codes():
        refunds = services().refunds
        refunds.get_invoice(invoice_id)  # exit 3 for an unknown invoice
        found, before = [], None
        while page := refunds.list_refunds(invoice_id, before=before, limit=200):
            found += page
            before = page[-1].id
    views = [refund_view(r) for r in found]
    if as_json:
        emit_json({"refunds": views})
    else:
        emit_table([flat(v) for v in views], _COLUMNS)


@app.command("show")
def show(refund_id: str = typer.Argument(..., help="The refund id."), as_json: bool = _JSON) -> None:
    """One refund: amount, address, state, transaction, and the quote that converted it (exit 3 if unknown)."""
    with errors_to_exit_codes():
        view = refund_view(services().refunds.get_refund(refund_id))
    if as_json:
        emit_json(view)
    else:
        emit_fields(view)
