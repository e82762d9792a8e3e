"""``cryptopay withdrawals``: the wallets' crypto withdrawals, for operators (list, pending, show, resolve).

``list`` pages through every withdrawal by id (``--state`` to keep one state); ``pending`` shows what is still
open, oldest first: requested ones (cooling off until ``send_after`` for a first-time address) and sent ones waiting
for their confirmations; ``show`` one with its transaction, fees and Travel Rule record. ``resolve`` asks the chain
about a sent withdrawal and settles it by what it says (confirmed, reverted, or broadcast again while pending);
``--fail --reason`` returns the coins only when the chain shows the transaction can no longer be mined. Exit 3 for
an unknown id, 2 for an unknown state or a missing reason, 5 (refused) when the chain does not justify the action.
"""

from __future__ import annotations

from typing import Any

import typer

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_rows, errors_to_exit_codes

app = typer.Typer(
    help="Wallet withdrawals: list them, the pending ones, show one, resolve one the network dropped.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_LIMIT = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many.")
_COLUMNS = ["id", "user", "state", "held", "network", "amount", "fee", "address", "send_after", "tx"]


def _row(w: Any) -> dict[str, Any]:
    return {
        "id": w.id,
        "user": w.user_id,
        "state": w.state.value,
        "network": w.network,
        "amount": str(w.amount),
        "fee": str(w.fee),
        "address": w.address,
        "send_after": w.send_after.isoformat(timespec="seconds"),
        "tx": w.tx_hash or "",
        "created_at": w.created_at.isoformat(timespec="seconds"),
        "network_fee": str(w.network_fee) if w.network_fee else "",
        "network_fee_estimate": str(w.network_fee_estimate) if w.network_fee_estimate else "",
        "network_fee_cap": str(w.network_fee_cap) if w.network_fee_cap else "",
        "failure": w.failure or "",
        "failure_code": w.failure_code or "",
        "stuck": "yes" if w.stuck else "",
        "held": w.held or "",
        "travel_rule": w.travel_rule_id or "",
    }


@app.command("list")
def list_withdrawals(
    state: str | None = typer.Option(None, "--state", help="requested, sent, confirmed or failed"),
    after: str | None = typer.Option(None, "--after", help="The last id of the previous page."),
    limit: int = _LIMIT,
    as_json: bool = _JSON,
) -> None:
    """Every withdrawal, by id."""
    from cryptopay.core.errors import InvalidInput
    from cryptopay.core.wallets.withdrawal_model import WithdrawalState

    with errors_to_exit_codes():
        try:
            wanted = WithdrawalState(state) if state else None
        except ValueError:
            raise InvalidInput(f"no state {state!r}: requested, sent, confirmed or failed", field="state") from None
        found = services().withdrawals.list_all(state=wanted, after=after, limit=limit)
    emit_rows([_row(w) for w in found], as_json, "no withdrawal", _COLUMNS)


@app.command("pending")
def pending(limit: int = _LIMIT, as_json: bool = _JSON) -> None:
    """Withdrawals still open (cooling off, waiting to be sent, or sent and not yet confirmed), oldest first."""
    with errors_to_exit_codes():
        found = services().withdrawals.pending(limit=limit)
    emit_rows([_row(w) for w in found], as_json, "no withdrawal is pending", _COLUMNS)


@app.command("show")
def show(
    withdrawal_id: str = typer.Argument(..., help="The withdrawal's id (wdr_...)."), as_json: bool = _JSON
) -> None:
    """One withdrawal, with its transaction, the network's fee and its Travel Rule record."""
    with errors_to_exit_codes():
        row = _row(services().withdrawals.show(withdrawal_id))
    if as_json:
        emit_json(row)
    else:
        for key, value in row.items():
            typer.echo(f"{key:12} {value}")


@app.command("resolve")
def resolve(
    withdrawal_id: str = typer.Argument(..., help="The withdrawal's id (wdr_...)."),
    fail: bool = typer.Option(False, "--fail", help="Return the coins: only once the chain shows it cannot be mined."),
    reason: str | None = typer.Option(None, "--reason", help="Why it is failed (with --fail), for the audit log."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    as_json: bool = _JSON,
) -> None:
    """Ask the chain about a sent withdrawal and settle it: confirmed, reverted, broadcast again, or (--fail) failed."""
    with errors_to_exit_codes():
        found = services().withdrawals.resolve(withdrawal_id, actor=operator(actor), fail=fail, reason=reason)
    row = {"outcome": found.outcome, "chain": found.chain, "message": found.message, **_row(found.withdrawal)}
    if as_json:
        emit_json(row)
    else:
        for key, value in row.items():
            typer.echo(f"{key:12} {value}")
