"""The ``cryptopay`` command: one Typer sub-app per command group, assembled here.

Exit codes: 0 ok, 1 unexpected failure, 2 invalid input, 3 not found, 4 conflict, 5 refused by a business
rule, 6 a dependency unavailable (see ``cryptopay.core.errors``).
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="cryptopay",
    help="cryptopay: crypto-fiat payments for Kenya. Operate the ledger, chains, M-Pesa, FX and settlements.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# (module under cryptopay_cli.commands, group name); each module exposes ``app: typer.Typer``.
_GROUPS: list[tuple[str, str]] = [("demo", "demo"), ("keys", "keys"), ("addresses", "addresses"), ("fx", "fx"),
                                  ("mpesa", "mpesa"), ("sandbox", "sandbox"), ("db", "db"), ("audit", "audit"),
                                  ("ledger", "ledger")]  # fmt: skip


def _register() -> None:
    for module_name, group in _GROUPS:
        module = importlib.import_module(f"cryptopay_cli.commands.{module_name}")
        app.add_typer(module.app, name=group)


@app.callback()
def _root() -> None:
    """cryptopay operations CLI."""


_register()

if __name__ == "__main__":  # pragma: no cover
    app()
