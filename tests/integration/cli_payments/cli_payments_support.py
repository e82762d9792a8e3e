"""Helpers for the payment CLI tests: run commands, create a merchant through the CLI, pay an invoice."""

from __future__ import annotations

import json
from typing import Any

from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_cli.main import build_app
from typer.testing import CliRunner, Result

app = build_app()

OWNER = "owner@duka.co.ke"
runner = CliRunner()


def cli(*args: str) -> Result:
    """Run ``cryptopay ARGS``."""
    return runner.invoke(app, list(args))


def cli_json(*args: str) -> Any:
    """Run ``cryptopay ARGS --json``, expecting exit 0, and parse its output."""
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def create_merchant(*extra: str, owner: str = OWNER, destination: str = "0712345678") -> str:
    """A merchant created through ``merchants create`` (instant B2C settlement to ``destination``); its id."""
    view = cli_json(
        "merchants",
        "create",
        "--name",
        "Duka La Mama",
        "--owner",
        owner,
        "--settlement",
        "instant",
        "--method",
        "mpesa_b2c",
        "--destination",
        destination,
        "--rails",
        "usdt-tron",
        *extra,
    )
    return str(view["id"])


PAYER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"  # the Tron address the customer pays from


def paid_invoice(stack: PaymentsStack, merchant_id: str, price: str = "1000") -> str:
    """An invoice of ``price`` KES paid in full on Tron from ``PAYER`` and confirmed; its id."""
    invoice = stack.invoicing.create_invoice(merchant_id, stack.kes(price))
    stack.pay(invoice.id, sender=PAYER)
    stack.confirm(3)
    return invoice.id
