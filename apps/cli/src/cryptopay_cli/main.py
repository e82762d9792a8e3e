"""The ``cryptopay`` command: one Typer sub-app per command group, assembled here.

Exit codes: 0 ok, 1 unexpected failure, 2 invalid input, 3 not found, 4 conflict, 5 refused by a business
rule, 6 a dependency unavailable (see ``cryptopay.core.errors``).

The console entry point (``run``) imports only the group being invoked, because some groups pull in heavy
libraries (SQLAlchemy, bitcoinlib, tronpy); ``cryptopay_cli.main.app`` is the full app, for tests and embedding.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

# (module under cryptopay_cli.commands, group name); each module exposes ``app: typer.Typer``.
_GROUPS: list[tuple[str, str]] = [
    ("demo", "demo"),
    ("db", "db"),
    ("ledger", "ledger"),
    ("audit", "audit"),
    ("addresses", "addresses"),
    ("keys", "keys"),
    ("mpesa", "mpesa"),
    ("fx", "fx"),
    ("sandbox", "sandbox"),
    ("merchants", "merchants"),
    ("users", "users"),
    ("invoices", "invoices"),
    ("settlements", "settlements"),
    ("payouts", "payouts"),
    ("reconcile", "reconcile"),
    ("webhooks", "webhooks"),
    ("serve", "serve"),
    ("worker", "worker"),
]


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every command group, or with just ``only``."""
    cli = typer.Typer(
        name="cryptopay",
        help="cryptopay: crypto-fiat payments for Kenya. Operate the ledger, chains, M-Pesa, FX and settlements.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )

    @cli.callback()
    def _root() -> None:
        """cryptopay operations CLI."""

    for module_name, group in _GROUPS:
        if only is None or group == only:
            module = importlib.import_module(f"cryptopay_cli.commands.{module_name}")
            cli.add_typer(module.app, name=group)
    return cli


def run() -> None:
    """Console entry point: load the invoked group only (all of them for ``--help``)."""
    groups = {group for _, group in _GROUPS}
    first = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    build_app(first if first in groups else None)()


_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = build_app()
        return _app
    raise AttributeError(name)


if __name__ == "__main__":  # pragma: no cover
    run()
