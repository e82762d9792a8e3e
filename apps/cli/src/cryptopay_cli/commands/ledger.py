"""``cryptopay ledger``: read the books: every account's balances, and the trial balance (zero per asset)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from cryptopay.core.ledger import Ledger

from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, fail

if TYPE_CHECKING:  # SQLAlchemy loads when a command runs, never for `--help`
    from cryptopay.adapters.sql import SqlLedgerStore

app = typer.Typer(help="Ledger reports: balances and the trial balance.")

URL = typer.Option(None, "--url", help="Database URL (default: $CRYPTOPAY_DATABASE_URL, else the SQLite file).")
JSON = typer.Option(False, "--json", help="Print one JSON object.")


def _ledger(url: str | None) -> tuple[Ledger, SqlLedgerStore]:
    from cryptopay.adapters.sql import SqlLedgerStore, make_engine

    store = SqlLedgerStore(make_engine(url))
    return Ledger(store), store


@app.command()
def balances(url: str | None = URL, as_json: bool = JSON) -> None:
    """Every account with its posted, pending and available balances (amounts as strings in JSON)."""
    _, store = _ledger(url)
    try:
        with errors_to_exit_codes():
            found = store.balances()
    finally:
        store.engine.dispose()
    rows: list[dict[str, Any]] = [
        {
            "account": b.account.code,
            "kind": b.account.kind.value,
            "asset": b.account.asset.code,
            "posted": b.posted.amount,
            "pending_out": b.pending_out.amount,
            "pending_in": b.pending_in.amount,
            "available": b.available.amount,
        }
        for b in found
    ]
    if as_json:
        emit_json({"accounts": rows})
    else:
        emit_table(rows, ["account", "kind", "asset", "posted", "pending_out", "pending_in", "available"])


@app.command("trial-balance")
def trial_balance(url: str | None = URL, as_json: bool = JSON) -> None:
    """Debits less credits per asset over all accounts: zero for every asset (exit 1 if not)."""
    ledger, store = _ledger(url)
    try:
        with errors_to_exit_codes():
            sums = ledger.trial_balance()
    finally:
        store.engine.dispose()
    balanced = all(total == 0 for total in sums.values())
    if as_json:
        emit_json({"balanced": balanced, "assets": dict(sums)})
    else:
        emit_table(
            [{"asset": code, "debits_less_credits": total} for code, total in sums.items()],
            ["asset", "debits_less_credits"],
        )
        typer.echo("balanced" if balanced else "NOT BALANCED")
    if not balanced:
        raise fail("the trial balance is not zero for every asset")
