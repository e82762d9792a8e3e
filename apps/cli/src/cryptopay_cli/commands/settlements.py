"""``cryptopay settlements``: run the settlements due now (or plan them with ``--dry-run``), and list settlements.

``run`` reports every merchant's run, including the ones refused (no rate, a bad profile) or not due; it exits 0
when every run was attempted, 3 for an unknown ``--merchant``. A dry run writes nothing.
"""

from __future__ import annotations

from typing import Any

import typer

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes
from cryptopay_cli.views import flat, run_view, settlement_view

app = typer.Typer(help="Settlements: run the ones due (or dry-run them); list them.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_MERCHANT = typer.Option(None, "--merchant", help="Only this merchant.")


def _parts(view: dict[str, Any]) -> str:
    return " + ".join(part["amount"]["amount"] for part in view["parts"]) or "-"


@app.command("run")
def run(
    merchant: str | None = _MERCHANT,
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and print, writing nothing."),
    as_json: bool = _JSON,
) -> None:
    """Settle every merchant whose cut-off has passed: convert, plan payouts, hold the shillings.

    The settlements' own records are ``system:settlement``'s, as the worker's; a run from the shell (not a dry run)
    is audited ``settlements.run_triggered`` by the operator, naming the merchant asked for and the settlements made
    (reviewer10 R10-3: the shell and the worker no longer look the same)."""
    from cryptopay.core.audit import AuditEvent

    with errors_to_exit_codes():
        svc = services()
        runs = svc.settling.run_settlements(merchant_id=merchant, dry_run=dry_run)
        if not dry_run:
            made = [r.settlement.id for r in runs if r.settlement is not None]
            details = {"merchant": merchant or "", "settlements": ",".join(made)[:1000], "count": str(len(made))}
            subject = f"merchant:{merchant}" if merchant else "settlements"
            svc.audit.append(AuditEvent(operator(), "settlements.run_triggered", subject, svc.clock.now(), details))
    views = [run_view(r) for r in runs]
    if as_json:
        emit_json({"dry_run": dry_run, "runs": views})
        return
    rows = [{**flat(v), "parts": _parts(v)} for v in views]
    emit_table(rows, ["merchant_id", "settlement_id", "converted", "to_pay", "parts", "charges", "remainder", "reason"])
    if dry_run:
        typer.echo("dry run: nothing was written")


@app.command("list")
def list_settlements(merchant: str | None = _MERCHANT, as_json: bool = _JSON) -> None:
    """Settlements of one merchant or of all."""
    with errors_to_exit_codes():
        views = [settlement_view(s) for s in services().listings.each_settlement(merchant)]
    if as_json:
        emit_json({"settlements": views})
    else:
        emit_table(
            [flat(v) for v in views],
            ["id", "merchant_id", "state", "cutoff", "converted", "credited", "payout_ids", "remainder", "reason"],
        )
