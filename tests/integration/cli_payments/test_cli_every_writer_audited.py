"""reviewer10 R10-3, the class: every CLI command is classified here, so a new one cannot be added unseen. A command
that is not a read nor listed system work must name the operator in the audit log: its body calls ``operator()``,
``acting_as``/``_officer``/``_deciding`` (an officer named, the OS operator audited first), ``audit_read``, appends
an ``AuditEvent`` or refuses (``Refused``, audited by the core), or, for the few that do it in a helper, that helper.
"""

from __future__ import annotations

import inspect

import typer.main
from cryptopay_cli.commands import merchants
from cryptopay_cli.main import build_app

# Print or compute only; write nothing an operator decides (local simulators and servers included).
READS = {
    *("demo btc-tron", "demo wallet", "demo tour", "db current", "db history", "ledger balances"),
    *("ledger trial-balance", "audit verify", "addresses derive", "addresses validate", "keys show"),
    *("keys generate-kek", "mpesa inspect", "fx rates", "sandbox daraja", "sandbox fx", "sandbox sms"),
    *("sandbox up", "sandbox down", "sandbox pay", "sandbox status", "merchants list", "merchants members"),
    *("invoices list", "invoices show", "invoices wrong-network", "refunds list", "refunds show", "links list"),
    *("links show", "settlements list", "reports sales", "reports fees", "reports settlements"),
    *("treasury status", "treasury sweeps", "jobs dead", "serve", "worker", "wallets paybill-payments"),
    *("wallets stk-pending", "bills catalogue", "bills pending", "withdrawals list", "withdrawals pending"),
    *("withdrawals show", "compliance queue", "compliance lists show", "compliance screen name"),
    *("compliance screen address", "compliance report str", "compliance report monthly"),
}
# The system's own periodic work, run now by hand: recorded as the system's (``system:*``), not the operator's.
# Known and left (reported): these do not name who ran them.
SYSTEM_WORK = {
    *("payouts query-stale", "treasury sweep", "wallets stk-query"),
    *("remittances advance", "privacy seal", "compliance monitor", "compliance rescreen", "fx quote"),
}
VIA_HELPER = {"merchants create": merchants._create}  # audits merchant.created and store.settings_created
MARKS = ("operator(", "acting_as(", "_officer(", "_deciding(", "audit_read(", "AuditEvent(", "Refused(")


def _commands() -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command.callback  # type: ignore[attr-defined]

    walk(typer.main.get_command(build_app()), [])
    return found


def test_every_command_that_writes_names_the_operator_in_the_audit_log():
    commands = _commands()
    assert not (READS | SYSTEM_WORK | set(VIA_HELPER)) - set(commands)  # no stale names
    unaudited = []
    for name, callback in commands.items():
        if name in READS or name in SYSTEM_WORK:
            continue
        source = inspect.getsource(VIA_HELPER.get(name, callback))  # type: ignore[arg-type]
        if not any(mark in source for mark in MARKS):
            unaudited.append(name)
    assert unaudited == [], f"classify or audit: {unaudited}"
