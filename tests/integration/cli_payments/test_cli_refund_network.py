"""A shell refund goes to an address that paid the invoice on the refund's own network (LASTREAD2 M-8).

The same EVM address on another chain is not "the address that paid": a Safe or an exchange deposit address on
Ethereum may be nobody's on BSC or Polygon, and the money would be lost there.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_cli.context import operator

from tests.integration.cli_payments.cli_payments_support import cli, cli_json
from tests.integration.cli_payments.conftest import installed_stack

PROFILE = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
PAYER = "0x" + "ab" * 20  # paid on Ethereum
OTHER = "0x" + "cd" * 20  # paid on BSC


@pytest.fixture
def stack() -> Iterator[PaymentsStack]:
    """Ethereum and BSC; merchant m1 takes USDT on both."""
    for deployment in installed_stack(("ethereum", "bsc")):
        store = deployment.add_merchant("m1", settlement=PROFILE, rails=("usdt-ethereum",))
        with deployment.uow() as uow:  # one USDT fee, two USDT rails
            uow.stores.put(attrs.evolve(store, rails=(*store.rails, deployment.rails["usdt-bsc"])))
        yield deployment


def test_a_shell_refund_on_another_chain_than_the_payment_is_refused_and_audited(stack):
    """Paid on Ethereum from PAYER and (again) on BSC from OTHER: a BSC refund to PAYER exits 5, audited
    ``refund.shell_refused`` with the network, nothing held; to OTHER on BSC and to PAYER on Ethereum it is asked."""
    invoice = stack.invoicing.create_invoice("m1", stack.kes("1000"))
    stack.pay(invoice.id, rail="usdt-ethereum", sender=PAYER)
    stack.pay(invoice.id, rail="usdt-bsc", sender=OTHER)
    stack.confirm(3)
    ask = ("refunds", "create", invoice.id, "--amount", "1", "--currency", "USDT", "--reason", "customer asked")
    refused = cli(*ask, "--rail", "usdt-bsc", "--address", PAYER)
    assert refused.exit_code == 5, refused.output
    assert "on bsc" in refused.stderr and OTHER in refused.stderr and PAYER not in refused.stderr
    assert stack.refunds.list_refunds(invoice.id) == []
    (record,) = [r for r in stack.audit_trail.records() if r.action == "refund.shell_refused"]
    assert (record.actor, record.subject) == (operator(), f"invoice:{invoice.id}")
    assert (dict(record.details)["network"], dict(record.details)["address"]) == ("bsc", PAYER)
    on_bsc = cli_json(*ask, "--rail", "usdt-bsc", "--address", OTHER)
    assert (on_bsc["address"].lower(), on_bsc["rail"]) == (OTHER, "usdt-bsc")
    on_ethereum = cli_json(*ask, "--rail", "usdt-ethereum", "--address", PAYER)
    assert (on_ethereum["address"].lower(), on_ethereum["rail"]) == (PAYER, "usdt-ethereum")
    assert cli(*ask, "--address", PAYER).exit_code == 2  # paid on two rails: the rail is named
