"""``cryptopay remittances``: remittance orders from abroad, for operators.

``list`` (newest first, by state), ``show`` (each read audited by the operator: ``remittances.viewed``,
``remittance.viewed``; the order, its invoice, the addresses that paid it, its current payout
and the name M-Pesa's result gave for the number, its refund), ``retry`` (pay a
held or failed order out again now: a new B2C attempt, audited), ``refund`` (send the order's USDT back to the
sender, optionally to another address on the same network with a reason, audited old -> new; an order held for
compliance is refused by both, exit 5, audited: two compliance officers release or refund it on the admin API,
``/v1/admin/compliance/held-remittances``), ``advance`` (what the worker's
``remittances.advance`` job does, once).
"""

from __future__ import annotations

from typing import Any

import typer
from cryptopay.core.remittances import RemittanceOrder, RemittanceState

from cryptopay_cli.context import audit_read, operator, services
from cryptopay_cli.output import emit_json, emit_rows, errors_to_exit_codes

app = typer.Typer(help="Remittances from abroad: list, show, retry a payout, refund.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_ACTOR = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login.")


def _row(order: RemittanceOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "state": order.state.value,
        "usdt": format(order.usdt.amount, "f"),
        "kes": format(order.kes.amount, "f"),
        "recipient": order.recipient_phone,
        "sender": f"{order.sender.name} ({order.sender.country})",
        "route": order.route.value if order.route else "",
        "attempts": order.attempts,
        "created_at": order.created_at.isoformat(timespec="seconds"),
        "note": order.note or "",
    }


def _detail(order: RemittanceOrder) -> dict[str, Any]:
    remittances = services().remittances
    payout = remittances.payout_of(order)
    return {
        **_row(order),
        "public_id": order.public_id,
        "invoice": order.invoice_id,
        "invoice_state": remittances.invoice(order).state.value,
        "charge": format(order.charge.amount, "f"),
        "quote": order.quote_id,
        "bid": str(order.bid),
        "refund_address": order.refund_address,
        "paid_from": " ".join(order.paid_from),  # the Travel Rule originator's account numbers, once paid
        "network": order.network or "",
        "payout": payout.id if payout else "",
        "payout_state": payout.state.value if payout else "",
        "receipt": (payout.receipt or "") if payout else "",
        "mpesa_name": (payout.receiver_name or "") if payout else "",  # who M-Pesa says the number is registered to
        "review_alerts": " ".join(order.review_alerts),
        "released_by_officers": " ".join(order.cleared_alerts),  # the alerts two officers decided
        "refund": order.refund_id or "",
        "excess_refunds": " ".join(order.excess_refund_ids),
        "excess_note": order.excess_note or "",
        "recipient_wallet": order.recipient_id or "",
        "sender_address": order.sender.address or "",
        "notified_at": order.notified_at.isoformat(timespec="seconds") if order.notified_at else "",
        "next_attempt_at": order.next_attempt_at.isoformat(timespec="seconds") if order.next_attempt_at else "",
    }


@app.command("list")
def list_orders(
    state: RemittanceState | None = typer.Option(None, "--state", help="Only orders in this state."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many."),
    before: str | None = typer.Option(None, "--before", help="The last id of the previous page."),
    as_json: bool = _JSON,
) -> None:
    """Remittance orders, newest first."""
    with errors_to_exit_codes():
        orders = services().remittances.orders(state=state, before=before, limit=limit)
        # phone numbers, senders' names and countries: an audited read by the operator
        audit_read("remittances.viewed", "remittances", state=state.value if state else "", count=str(len(orders)))
    emit_rows([_row(o) for o in orders], as_json, "no remittance order")


@app.command("show")
def show(order_id: str, as_json: bool = _JSON) -> None:
    """One order with its invoice, payout and refund."""
    with errors_to_exit_codes():
        order = services().remittances.get(order_id)
        audit_read("remittance.viewed", f"remittance:{order.id}")  # the Travel Rule's data, M-Pesa's registered name
        detail = _detail(order)
    if as_json:
        emit_json(detail)
    else:
        for key, value in detail.items():
            typer.echo(f"{key:>16}: {value}")


@app.command("retry")
def retry(order_id: str, actor: str | None = _ACTOR, as_json: bool = _JSON) -> None:
    """Pay a held or failed order out again now (a new M-Pesa attempt); refused while one is in flight. An order held
    for compliance is refused (exit 5, audited) until two officers released it on the admin API: a case closed with
    no action is not a release."""
    with errors_to_exit_codes():
        order = services().remittances.retry(order_id, actor=operator(actor))
        detail = _detail(order)
    if as_json:
        emit_json(detail)
    else:
        typer.echo(f"remittance {order.id}: {order.state.value}, payout {detail['payout']} planned")


@app.command("refund")
def refund(
    order_id: str,
    address: str | None = typer.Option(None, "--address", help="Another refund address on the network paid on."),
    reason: str | None = typer.Option(
        None, "--reason", help="Why the refund goes to another address (required with --address; audited)."
    ),
    actor: str | None = _ACTOR,
    as_json: bool = _JSON,
) -> None:
    """Send the order's USDT back to the sender (conversion reversed first); refused once paid out. Another address
    needs --reason (audited from the old address to the new one). An order held for compliance (alerts not cleared)
    is refused (exit 5, audited): its refund is compliance's decision."""
    with errors_to_exit_codes():
        order = services().remittances.refund(order_id, actor=operator(actor), address=address, reason=reason)
        detail = _detail(order)
    if as_json:
        emit_json(detail)
    else:
        typer.echo(f"remittance {order.id}: {order.state.value}, refund {order.refund_id or '(not asked)'}")


@app.command("advance")
def advance(
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."), as_json: bool = _JSON
) -> None:
    """Move every active order one step now (what the worker's remittances.advance job does)."""
    with errors_to_exit_codes():
        moved = services().remittances.advance(limit=limit)
    emit_rows([_row(o) for o in moved], as_json, "no remittance order to move")
