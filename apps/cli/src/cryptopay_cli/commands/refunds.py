"""``cryptopay refunds``: refund (part of) what an invoice received, list an invoice's refunds, show one.

``create`` holds the amount from the merchant's balance and records the refund; the worker's ``refunds.send`` job
broadcasts it from the network's hot wallet. Exit 2 for a bad address or amount, 3 for an unknown invoice, 5 when
the invoice is still open or the amount exceeds what it received less earlier refunds (on a remittance order's
invoice also less what the desk kept as revenue, named in the message, and the price a paid-out order took).

A closed merchant's invoice (``merchants close``) is refunded only with ``--closed-merchant REASON``: returning its
customers' money is often what closing needs, so an operator may, but says so (the reason is kept on the
``refund.request`` audit record); without it, exit 5 (``merchant_closed``); with it on an open merchant's, exit 2.
A wrong-network payment (``wrong-network``) is the payer's money, never the merchant's: it goes back either way.

From the shell a refund of a merchant's money goes only to an address that paid the invoice on the refund's own
network (or, on a remittance order's invoice, the refund address its sender gave, on the network its USDT arrived on;
the same EVM address on another chain is not it: LASTREAD2 M-8), and says why (``--reason``, required): another
address is the merchant's decision, made on its dashboard or API (``POST /v1/invoices/{id}/refunds``, signed in
with step-up), not one operator's (reviewer10 R10-9). A refusal is exit 5, audited ``refund.shell_refused``; a refund
asked is audited ``refund.shell_requested`` with the reason, by the OS operator, in the refund's own transaction.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, Refused
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.payments.model import address_key
from cryptopay.core.payments.refunds import refund_rail, valid_address
from cryptopay.core.remittances import DESK

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


def _allowed_addresses(invoice_id: str, rail: str | None) -> tuple[str, list[tuple[str, str]]]:
    """The network the refund goes out on (``rail``, default as the refund's: the one rail the invoice was paid on)
    and the (network, address) pairs a shell refund of ``invoice_id`` may go to: every address that paid it, on the
    network it paid on, and on a remittance order's invoice the refund address its sender gave, on the network its
    USDT arrived on (or was paid on) - never the same address on another chain (LASTREAD2 M-8). ``NotFound``
    (exit 3) for an unknown invoice, ``InvalidInput`` (exit 2) for a rail it does not offer."""
    svc = services()
    invoice = svc.refunds.get_invoice(invoice_id)
    networks = {option.rail.key: option.rail.network.name for option in invoice.options}
    target = networks[refund_rail(invoice, rail)]
    allowed = [
        (networks.get(p.rail_key, ""), p.transfer.from_address) for p in invoice.payments if p.transfer.from_address
    ]
    if invoice.merchant_id == DESK and invoice.order_id:  # a remittance order's: its sender's refund address too
        order = svc.remittances.get(invoice.order_id)
        arrived = [order.network] if order.network else [net for net, _ in allowed]
        allowed += [(network, order.refund_address) for network in dict.fromkeys(arrived)]
    return target, allowed


def _shaped(network: str, address: str) -> bool:
    try:
        valid_address(network, address.strip(), {})
    except InvalidInput:
        return False
    return True


def _refuse_another_address(invoice_id: str, address: str, reason: str, rail: str | None) -> None:
    """Exit 5, audited ``refund.shell_refused``, unless ``address`` is one a shell refund on ``rail`` may go to: an
    address that paid the invoice on the refund's own network (the same EVM address on another chain is not it)."""
    target, allowed = _allowed_addresses(invoice_id, rail)
    if not _shaped(target, address):  # malformed on the refund's network: bad input (exit 2), not a refusal
        valid_address(target, address.strip(), {})
    if any(net == target and address_key(net, address.strip()) == address_key(net, paid) for net, paid in allowed):
        return
    svc = services()
    details = {
        "address": address.strip(),
        "network": target,
        "reason": reason,
        "paid_from": ",".join(a for _, a in allowed)[:500],
    }
    svc.audit.append(AuditEvent(operator(), "refund.shell_refused", f"invoice:{invoice_id}", svc.clock.now(), details))
    there = ", ".join(a for net, a in allowed if net == target) or "none known"
    raise Refused(
        f"from the shell a refund of invoice {invoice_id} on {target} goes only to an address that paid it there "
        f"({there}): another address is the merchant's decision, on its "
        f"dashboard or API (POST /v1/invoices/{invoice_id}/refunds, signed in with step-up)"
    )


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
    reason: str = typer.Option(..., "--reason", help="Why the operator refunds it (audited)."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    closed_merchant: str | None = typer.Option(
        None,
        "--closed-merchant",
        help="Why a closed merchant's invoice is refunded (required for one, refused for an open one; audited).",
    ),
    as_json: bool = _JSON,
) -> None:
    """Hold and record a refund; the worker sends it (a KES amount is converted at a locked quote, kept on it).
    A closed merchant's invoice needs --closed-merchant REASON (exit 5 without it, 2 with it on an open one).
    Only to an address that paid the invoice (exit 5 otherwise, audited); --reason is required and audited."""
    with errors_to_exit_codes():
        if not reason.strip():
            raise InvalidInput("--reason says why the operator refunds it", field="--reason")
        _refuse_another_address(invoice_id, address, reason.strip(), rail)
        refund = services().refunds.refund(
            invoice_id,
            address=address,
            requested_by=operator(actor),
            rail=rail,
            amount=_amount(amount, currency),
            quote_id=quote_id,
            closed_merchant=closed_merchant,
            fund_after_settlement=fund,
            operator_reason=reason.strip(),
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
