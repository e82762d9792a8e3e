"""``cryptopay reconcile``: report every difference between the ledger, our records, M-Pesa and the chains.

The checks are the core's (``cryptopay.core.reconciliation.CHECKS``): custody against the standing invoice
credits, confirmed payments against credits, credit entries, completed payouts against M-Pesa receipts, payout
holds, the in-flight account, the trial balance; then the outside world: M-Pesa's statement export
(``--mpesa-statement FILE``, the org portal's CSV, repeated for one file per Short Code: the payout Short Code's
against our payouts (a reversal of one of them, or a withdrawal of an unknown Reason Type, is a difference), the
paybill's collections against the wallets' STK buys and paybill payments (``mpesa-collections``); each statement is
read only for the records of its own Short Code, the same file for both when one Short Code is both),
the float against an Account Balance answer (``--mpesa-balance`` with ``--float-baseline``), and custody against
the chains' balances of our addresses (when the deployment reads them). A check whose outside source was not given
is shown as skipped.

The settlement bank account's statement (``--bank-statement FILE``, the CSV layout of
``cryptopay.core.reconciliation.bank_statement``: a ``Period:`` line, then Date, Reference, Narrative, Debit, Credit,
Balance) is matched against the bank-transfer payouts (``bank-transfers``): each one confirmed within its period is
one debit by its bank reference and exact amount, and every debit is one of ours. Without it the check is skipped
while any bank transfer was confirmed. A row that cannot be read exits 2 naming its line, before anything is read.

The statement's period is its ``Time Period:`` line, or ``--from``/``--to`` (Nairobi time, as the portal writes it;
a day alone is the whole day) for an export without one; it is never guessed from the rows (review6 F3). A
statement of neither is not compared (``skipped: statement period unknown``, exit 7); one whose Short Code is not
ours is refused (exit 2).

A chain whose node cannot be read does not stop the run: ``custody-on-chain`` is shown as skipped for that network
(``skipped: ethereum not read: ...``, with the other networks still compared) and every other check runs and is kept.

Exit codes: 0 when everything agrees; 5 when any difference is found (the books do not reconcile); 7 when none is
found but a check was skipped because its outside source failed (a chain's node down), or, with
``--require-outside``, because any outside source was not given or configured (no statement, no Account Balance
answer or float baseline, no chain reader, no bank statement); 2 for an unreadable statement (M-Pesa's or the
bank's) or amount; 6 when the database is unavailable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money, to_decimal
from cryptopay.core.reconciliation import (
    BankStatement,
    CheckResult,
    Outside,
    Report,
    Statement,
    parse_bank_statement,
    parse_statement,
    period_of,
)

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, fail

app = typer.Typer(help="Reconcile the ledger with our records, M-Pesa and the chains.", subcommand_metavar="")

DIFFERENCES_EXIT_CODE = 5
SKIPPED_EXIT_CODE = 7  # no difference, but a check did not compare (an outside source failed, or was required)


def _result_view(result: CheckResult) -> dict[str, Any]:
    check = result.check
    return {
        "name": check.name,
        "area": check.area,
        "about": check.about,
        "ok": result.ok,
        "skipped": result.skipped or None,
        "differences": [
            {"subject": d.subject, "expected": d.expected, "actual": d.actual, "detail": d.detail}
            for d in result.differences
        ],
    }


def _count(n: int) -> str:
    return f"{n} difference{'s' if n != 1 else ''}"


def _outcome(view: dict[str, Any]) -> str:
    if view["skipped"]:
        return f"skipped: {view['skipped']}"
    return "ok" if view["ok"] else _count(len(view["differences"]))


def _print(views: list[dict[str, Any]]) -> None:
    emit_table(
        [{"area": v["area"], "check": v["name"], "result": _outcome(v)} for v in views],
        ["area", "check", "result"],
    )
    for view in views:
        if view["differences"]:
            typer.echo(f"\n{view['name']}: {view['about']}")
            emit_table(view["differences"], ["subject", "expected", "actual", "detail"])


def _print_inputs(report: Report) -> None:
    """What the run compared with, and a typed Account Balance said as such (R10-13)."""
    inputs = report.inputs
    if inputs.get("mpesa_balance_source") == "typed":
        typer.echo(
            f"\nmpesa-float compared with a typed Account Balance ({inputs['mpesa_balance']}, --mpesa-balance), not "
            "M-Pesa's own answer: recorded and audited as typed"
        )
    shown = ", ".join(f"{k}={v}" for k, v in sorted(inputs.items()) if v)
    typer.echo(f"\nrun by {report.operator}; inputs: {shown or 'none'}")


def _shillings(text: str | None, option: str) -> Money | None:
    if text is None:
        return None
    try:
        return Money.of(to_decimal(text), KES)
    except (InvalidInput, ValueError, ArithmeticError):
        raise InvalidInput(f"{option} must be an amount in shillings, e.g. 150000.00", field=option) from None


def _statements(paths: list[Path] | None, first: str | None, last: str | None) -> tuple[Statement, ...]:
    """The statement files read (one per Short Code), each as of ``--from``/``--to`` when given (both, and only with
    a statement)."""
    if (first is None) != (last is None):
        raise InvalidInput("give both --from and --to (the statement's period), or neither", field="--from")
    if not paths:
        if first is not None:
            raise InvalidInput(
                "--from and --to are the period of --mpesa-statement: give the statement", field="--from"
            )
        return ()
    return tuple(_statement(path, first, last) for path in paths)


def _read(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read {path}: {error}", field=option) from None


def _statement(path: Path, first: str | None, last: str | None) -> Statement:
    statement = parse_statement(_read(path, "--mpesa-statement"))
    return statement.with_period(period_of(first, last)) if first is not None and last is not None else statement


def _bank_statement(path: Path | None) -> BankStatement | None:
    return parse_bank_statement(_read(path, "--bank-statement")) if path is not None else None


def _outside(
    statements: tuple[Statement, ...], bank: BankStatement | None, balance: str | None, baseline: str | None
) -> Outside:
    return Outside(
        statements=statements,
        bank_statement=bank,
        mpesa_balance=_shillings(balance, "--mpesa-balance"),
        float_baseline=_shillings(baseline, "--float-baseline"),
    )


def _report_view(report: Report) -> dict[str, Any]:
    checks = [_result_view(r) for r in report.results]
    return {
        "clean": report.clean,
        "differences": report.differences,
        "at": report.at,
        "operator": report.operator,
        "inputs": dict(report.inputs),
        "checks": checks,
    }


@app.callback(invoke_without_command=True)
def run(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    statement: list[Path] | None = typer.Option(
        None,
        "--mpesa-statement",
        help="M-Pesa org portal statement export (CSV), one per Short Code (repeat it): the payout Short Code's is "
        "matched against our payouts, the paybill's against our collections.",
    ),
    bank: Path | None = typer.Option(
        None,
        "--bank-statement",
        help="The settlement bank account's statement (CSV: Period line; Date, Reference, Narrative, Debit, Credit, "
        "Balance), matched against the bank-transfer payouts by reference and amount.",
    ),
    balance: str | None = typer.Option(None, "--mpesa-balance", help="The float per an Account Balance answer (KES)."),
    baseline: str | None = typer.Option(
        None, "--float-baseline", help="Float funded outside the books: opening balance and unbooked top-ups (KES)."
    ),
    first: str | None = typer.Option(
        None, "--from", help="The statement's first moment (Nairobi time, or a day) when it has no Time Period line."
    ),
    last: str | None = typer.Option(
        None, "--to", help="The statement's last moment (Nairobi time, or a day: its end) when it has no Time Period."
    ),
    require_outside: bool = typer.Option(
        False, "--require-outside", help="Exit 7 when any check is skipped (an outside source not given or read)."
    ),
) -> None:
    """Compare the records now; exit 0 when they agree, 5 listing every difference when they do not, 7 when none
    is found but a check was skipped as a chain's node could not be read (or any was skipped, with
    --require-outside)."""
    with errors_to_exit_codes():
        outside = _outside(_statements(statement, first, last), _bank_statement(bank), balance, baseline)
        report = services().reconciliation.reconcile(outside, by="cli", operator=operator())
    view = _report_view(report)
    if as_json:
        emit_json(view)
    else:
        _print(view["checks"])
        _print_inputs(report)
    if not report.clean:
        raise fail(f"{_count(report.differences)} found: the books do not reconcile", DIFFERENCES_EXIT_CODE)
    if report.unread:
        why = "; ".join(f"{source}: {reason}" for source, reason in sorted(report.unread.items()))
        raise fail(
            f"no difference found, but an outside source could not be read, its check skipped: {why}", SKIPPED_EXIT_CODE
        )
    if require_outside and report.skipped:
        raise fail(
            f"no difference found, but skipped (--require-outside): {', '.join(report.skipped)}", SKIPPED_EXIT_CODE
        )
