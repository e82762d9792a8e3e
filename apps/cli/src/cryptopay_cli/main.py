"""The ``cryptopay`` command: one Typer sub-app per command group, each imported only when it is used.

Exit codes: 0 ok, 1 unexpected failure, 2 invalid input, 3 not found, 4 conflict, 5 refused by a business
rule, 6 a dependency unavailable (see ``cryptopay.core.errors``); ``reconcile`` also exits 7 when a check was skipped.

``cryptopay --help`` lists the groups from ``GROUPS`` (name, module, one-line help) without importing any of them;
``cryptopay invoices ...`` imports ``cryptopay_cli.commands.invoices`` alone, and the composition root only when
a command asks for its services. ``build_app()`` is the whole CLI, for tests and embedding.
"""

from __future__ import annotations

import importlib
import sys

import attrs
import typer

from cryptopay_cli.context import begin_invocation

__all__ = ["GROUPS", "Group", "build_app", "run"]


@attrs.frozen
class Group:
    """A command group: its name, its module under ``cryptopay_cli.commands`` (exposing ``app``), its help line."""

    name: str
    module: str
    help: str

    def load(self) -> typer.Typer:
        """The group's real Typer app (imports its module)."""
        module = importlib.import_module(f"cryptopay_cli.commands.{self.module}")
        group: typer.Typer = module.app
        return group

    def stand_in(self) -> typer.Typer:
        """A Typer with the group's help line and no commands, for listing it without importing its module."""
        return typer.Typer(help=self.help)


GROUPS = (
    Group(
        "demo",
        "demo",
        "Demos on the sandbox: end to end (default), BTC and Tron, a personal wallet; the core tour without servers.",
    ),
    Group("db", "db", "Database migrations: upgrade, current, downgrade, history."),
    Group("ledger", "ledger", "Ledger reports: balances and the trial balance."),
    Group("audit", "audit", "The append-only, hash-chained audit log."),
    Group("addresses", "addresses", "Deposit addresses: derive from an account xpub, validate for a network."),
    Group("keys", "keys", "Hot-wallet keys: create, rotate the vault's key-encryption key, show public parts."),
    Group("mpesa", "mpesa", "M-Pesa: inspect Daraja payloads in their normalised form."),
    Group("fx", "fx", "FX: lock quotes from the median of fresh rate sources; inspect the sources."),
    Group(
        "sandbox",
        "sandbox",
        "The sandbox (never production): anvil and every simulator in the background (up, status, pay, down), or one"
        " simulator in the foreground.",
    ),
    Group(
        "merchants",
        "merchants",
        "Merchants: create one with its store settings; list them; their teams (members, invite, remove, set-role);"
        " close one (its retention period starts).",
    ),
    Group("invoices", "invoices", "Invoices: list, show and cancel; wrong-network payments."),
    Group(
        "refunds",
        "refunds",
        "Refunds: create one for an invoice or a wrong-network payment, list an invoice's, show one.",
    ),
    Group("links", "links", "Payment links: create, list, show, deactivate."),
    Group("settlements", "settlements", "Settlements: run the ones due (or dry-run them); list them."),
    Group(
        "payouts",
        "payouts",
        "Payouts: list, show one, retry a failed one, query stale ones, bank file and bank confirmations, "
        "unresolved ones, receipt corrections.",
    ),
    Group("reports", "reports", "Merchant reports: sales, fees and taxes, settlements per day or month."),
    Group("reconcile", "reconcile", "Reconcile the ledger with our records, M-Pesa and the chains."),
    Group("treasury", "treasury", "The treasury: float and inventory, sweeps, top-ups and conversions."),
    Group("webhooks", "webhooks", "Merchant webhooks: redeliver one, set an endpoint's payload version."),
    Group("jobs", "jobs", "Background jobs: list the dead ones, requeue one or all (audited)."),
    Group("serve", "serve", "Serve the REST API (runs cryptopay-http)."),
    Group("worker", "worker", "Run the background jobs (runs cryptopay-worker)."),
    Group("users", "users", "Users: show an account, create an admin, change a role or name (audited)."),
    Group(
        "wallets",
        "wallets",
        "Personal wallets: show, history, freeze and unfreeze (audited); pending STK purchases; crypto deposits.",
    ),
    Group("bills", "bills", "Bills: the biller catalogue, bill payments awaiting M-Pesa."),
    Group("remittances", "remittances", "Remittances from abroad: list, show, retry a payout, refund."),
    Group(
        "withdrawals",
        "withdrawals",
        "Wallet withdrawals: list them, the pending ones, show one, resolve one the network dropped.",
    ),
    Group("privacy", "privacy", "Data protection: a data subject's export, sealing personal data."),
    Group(
        "compliance",
        "compliance",
        "Compliance: the KYC/KYB review queue, freezes, AML alerts and cases, sanctions lists and screening, reports.",
    ),
)


EXIT_CODES = (
    "Exit codes: 0 ok, 1 unexpected, 2 invalid input, 3 not found, 4 conflict, 5 refused by a business rule, "
    "6 a dependency unavailable (or not configured); reconcile: 7 a check skipped (an outside source unread)."
)


def build_app(only: str | None = None, *, stand_ins: bool = False) -> typer.Typer:
    """The CLI with every command group (or ``only`` that one real, the others as stand-ins when ``stand_ins``)."""
    cli = typer.Typer(
        name="cryptopay",
        help="cryptopay: crypto-fiat payments for Kenya. Operate the ledger, chains, M-Pesa, FX and settlements.",
        epilog=EXIT_CODES,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help: importing rich would cost more than the whole rest of `--help`
    )

    @cli.callback()
    def _root() -> None:
        """cryptopay operations CLI."""
        from cryptopay.core import redaction

        redaction.install()  # `sandbox`, `serve`, `demo`...: no callback token or credential in any log line
        begin_invocation()

    for group in GROUPS:
        real = group.name == only or not stand_ins
        cli.add_typer(group.load() if real else group.stand_in(), name=group.name)
    return cli


def run() -> None:
    """Console entry point: import the invoked group only; ``--help`` lists the groups without importing any."""
    names = {group.name for group in GROUPS}
    first = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    build_app(first if first in names else None, stand_ins=True)()


if __name__ == "__main__":  # pragma: no cover
    run()
