"""`cryptopay invoices wrong-network|accept-wrong-network|show`: payments sent on the wrong EVM network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptopay.core.money import USDC, USDT, Money
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_cli.context import operator

from tests.integration.cli_payments.cli_payments_support import cli, cli_json
from tests.integration.cli_payments.conftest import installed_stack

PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture
def stack() -> Iterator[PaymentsStack]:
    """Ethereum and Polygon; merchant m1 takes USDT on Ethereum only."""
    for deployment in installed_stack(("ethereum", "polygon")):
        deployment.add_merchant("m1", settlement=PROFILE, rails=("usdt-ethereum",))
        yield deployment


PAYER = "0x" + "cd" * 20  # the address that paid


def _paid_on_polygon(stack: PaymentsStack, asset=USDT) -> str:
    invoice = stack.invoicing.create_invoice("m1", Money.of("40", USDT))
    stack.chains["polygon"].pay(invoice.options[0].address, Money.of("40", asset), sender=PAYER)
    stack.sync()
    return invoice.id


def test_cli_lists_shows_and_accepts_a_wrong_network_payment(stack):
    """Listed pending (by state, merchant, invoice), shown under its invoice, accepted with the operator named."""
    invoice_id = _paid_on_polygon(stack)
    [listed] = cli_json("invoices", "wrong-network", "--state", "pending")["wrong_network_payments"]
    assert (listed["invoice_id"], listed["rail"], listed["amount"]) == (invoice_id, "usdt-polygon", "40.000000 USDT")
    assert cli_json("invoices", "wrong-network", "--merchant", "m2")["wrong_network_payments"] == []
    shown = cli_json("invoices", "show", invoice_id)
    assert [p["id"] for p in shown["wrong_network_payments"]] == [listed["id"]]
    table = cli("invoices", "wrong-network")
    assert table.exit_code == 0 and listed["id"] in table.stdout
    accepted = cli_json("invoices", "accept-wrong-network", listed["id"], "--actor", "amina")
    assert (accepted["state"], accepted["decided_by"]) == ("accepted", operator())
    assert cli_json("invoices", "wrong-network", "--state", "pending")["wrong_network_payments"] == []
    assert stack.invoice(invoice_id).state.value == "processing"
    again = cli("invoices", "accept-wrong-network", listed["id"])
    assert again.exit_code == 4


def test_cli_accept_exit_codes(stack):
    """An unknown id exits 3; USDC to a USDT invoice exits 5 (a refund's business) and stays pending."""
    assert cli("invoices", "accept-wrong-network", "wnp_nope").exit_code == 3
    invoice_id = _paid_on_polygon(stack, USDC)
    [payment] = cli_json("invoices", "wrong-network", "--invoice", invoice_id)["wrong_network_payments"]
    refused = cli("invoices", "accept-wrong-network", payment["id"])
    assert refused.exit_code == 5 and "asks for no USDC" in refused.stderr
    assert cli_json("invoices", "wrong-network", "--invoice", invoice_id)["wrong_network_payments"][0]["state"] == (
        "pending"
    )


def test_cli_refunds_a_wrong_network_payment(stack):
    """Exit 5 while too shallow; then the refund is recorded whole on Polygon's rail with the operator named; a
    second one exits 4; an unknown payment 3 and a bad address 2; another address than the payer's exits 5 without
    --reason (review R27)."""
    invoice_id = _paid_on_polygon(stack)
    [payment] = cli_json("invoices", "wrong-network", "--invoice", invoice_id)["wrong_network_payments"]
    payer = PAYER
    early = cli("refunds", "wrong-network", payment["id"], "--address", payer)
    assert early.exit_code == 5 and "confirmations" in early.stderr
    stack.confirm(2)
    assert cli("refunds", "wrong-network", "wnp_nope", "--address", payer).exit_code == 3
    assert cli("refunds", "wrong-network", payment["id"], "--address", "0x12", "--reason", "r").exit_code == 2
    elsewhere = cli("refunds", "wrong-network", payment["id"], "--address", "0x" + "ee" * 20)
    assert elsewhere.exit_code == 5 and "address that paid" in elsewhere.stderr
    refund = cli_json("refunds", "wrong-network", payment["id"], "--actor", "amina")
    assert (refund["rail"], refund["requested_by"], refund["state"]) == ("usdt-polygon", operator(), "requested")
    assert refund["address"] == payer
    assert cli("refunds", "wrong-network", payment["id"], "--address", payer).exit_code == 4
    [listed] = cli_json("invoices", "wrong-network", "--invoice", invoice_id)["wrong_network_payments"]
    assert listed["state"] == "refunded"
