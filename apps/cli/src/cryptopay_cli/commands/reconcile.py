"""``cryptopay reconcile``: report every difference between the ledger, the invoice credits and the payouts.

Checks (see ``cryptopay_cli.reconciliation``): custody per network against the standing invoice credits, confirmed
payments against credits, credit entries in the ledger, completed payouts against M-Pesa receipts, payout holds,
the in-flight account against the payouts in flight, and the trial balance per asset.

Exit codes: 0 when everything agrees; 5 when any difference is found (the books do not reconcile); the usual
codes otherwise (6 when the database is unavailable).
"""

from __future__ import annotations

from typing import Any

import typer

from cryptopay_cli.context import services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, fail
from cryptopay_cli.reconciliation import Check, Difference, gather, reconcile

app = typer.Typer(help="Reconcile the ledger with invoice credits, payouts and M-Pesa results.", subcommand_metavar="")

DIFFERENCES_EXIT_CODE = 5


def _check_view(check: Check, differences: list[Difference]) -> dict[str, Any]:
    return {
        "name": check.name,
        "area": check.area,
        "about": check.about,
        "ok": not differences,
        "differences": [
            {"subject": d.subject, "expected": d.expected, "actual": d.actual, "detail": d.detail} for d in differences
        ],
    }


def _count(n: int) -> str:
    return f"{n} difference{'s' if n != 1 else ''}"


def _print(views: list[dict[str, Any]]) -> None:
    emit_table(
        [
            {"area": v["area"], "check": v["name"], "result": "ok" if v["ok"] else _count(len(v["differences"]))}
            for v in views
        ],
        ["area", "check", "result"],
    )
    for view in views:
        if view["differences"]:
            typer.echo(f"\n{view['name']}: {view['about']}")
            emit_table(view["differences"], ["subject", "expected", "actual", "detail"])


@app.callback(invoke_without_command=True)
def run(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Compare the records now; exit 0 when they agree, 5 listing every difference when they do not."""
    with errors_to_exit_codes():
        results = reconcile(gather(services()))
    views = [_check_view(check, differences) for check, differences in results]
    count = sum(len(v["differences"]) for v in views)
    if as_json:
        emit_json({"clean": count == 0, "differences": count, "checks": views})
    else:
        _print(views)
    if count:
        raise fail(f"{_count(count)} found: the books do not reconcile", DIFFERENCES_EXIT_CODE)
