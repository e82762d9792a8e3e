"""``cryptopay bills``: the biller catalogue, and the bill payments waiting for M-Pesa (operators).

``catalogue`` lists each biller's paybill, account format, minimum and maximum, and whether the row was verified;
``pending`` lists bill payouts (B2B BusinessPayBill) that were sent and are not yet decided: waiting for M-Pesa's
result or for a Transaction Status answer (``cryptopay payouts query-stale`` asks; the worker does it on schedule).
"""

from __future__ import annotations

import typer

from cryptopay_cli.context import services
from cryptopay_cli.output import emit_json, emit_rows, emit_table, errors_to_exit_codes

app = typer.Typer(help="Bills: the biller catalogue, bill payments awaiting M-Pesa.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command("catalogue")
def catalogue(as_json: bool = _JSON) -> None:
    """The billers a wallet may pay, with their paybills and limits (data, versioned)."""
    from cryptopay.core.wallets.billers import biller_catalogue

    found = biller_catalogue()
    rows = [
        {
            "code": b.code,
            "name": b.name,
            "paybill": b.paybill,
            "account": f"{b.account_label} {b.account_pattern}",
            "minimum": format(b.minimum.amount, "f"),
            "maximum": format(b.maximum.amount, "f"),
            "token": b.token,
            "verified": b.verified,
        }
        for b in found.billers.values()
    ]
    if as_json:
        emit_json({"version": found.version, "effective_from": found.effective_from.isoformat(), "billers": rows})
    else:
        emit_table(rows, list(rows[0]))


@app.command("pending")
def pending(
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."), as_json: bool = _JSON
) -> None:
    """Bill payments sent to M-Pesa and not yet decided (oldest first), with their pending status queries."""
    with errors_to_exit_codes():
        payouts = services().wallet_bills.awaiting_answer(limit=limit)
    rows = [
        {
            "bill": p.settlement_id,
            "payout": p.id,
            "state": p.state.value,
            "route": p.route,
            "amount": format(p.amount.amount, "f"),
            "submitted_at": p.submitted_at.isoformat(timespec="seconds") if p.submitted_at else "",
            "check_at": p.check_at.isoformat(timespec="seconds") if p.check_at else "",
            "queries": len(p.queries),
            "note": p.note or "",
        }
        for p in payouts
    ]
    emit_rows(rows, as_json, "no bill payment is waiting for M-Pesa")
