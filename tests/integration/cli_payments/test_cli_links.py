"""`cryptopay links create|list|show|deactivate` over the in-memory deployment."""

from __future__ import annotations

from tests.integration.cli_payments.cli_payments_support import cli, cli_json, create_merchant


def test_cli_links_create_list_show_and_deactivate(stack):
    """A fixed link and an open-amount link; listed newest first; deactivated for good; each change audited."""
    merchant_id = create_merchant()
    fixed = cli_json(
        "links", "create", "--merchant", merchant_id, "--description", "Mandazi", "--amount", "50", "--max-uses", "2"
    )
    assert fixed["amount"] == {"amount": "50.00", "asset": "KES"} and fixed["open"] and fixed["max_uses"] == 2
    entered = cli_json(
        "links", "create", "--merchant", merchant_id, "--description", "Tips", "--expires-in-minutes", "60"
    )
    assert entered["amount"] is None and entered["expires_at"]
    listed = cli_json("links", "list", "--merchant", merchant_id)["links"]
    assert [x["id"] for x in listed] == [entered["id"], fixed["id"]]
    stack.payment_links.create_invoice(fixed["public_id"])
    assert cli_json("links", "show", fixed["id"])["uses"] == 1
    stack.payment_links.create_invoice(fixed["public_id"], client="192.0.2.1")  # both uses held, nothing paid
    busy = cli_json("links", "show", fixed["id"])
    assert not busy["open"] and "checkouts in progress" in busy["closed_reason"]  # review6 F11: not "used 2 times"
    off = cli_json("links", "deactivate", fixed["id"])
    assert not off["active"] and off["closed_reason"] == "it was deactivated"
    assert "payment link" in cli("links", "create", "--merchant", merchant_id, "--description", "x").stdout
    actions = [r.action for r in stack.storage.audit_records()]
    assert actions.count("payment_link.create") == 3 and actions.count("payment_link.deactivate") == 1


def test_cli_links_exit_codes(stack):
    """Unknown merchant or link 3; bad terms 2."""
    merchant_id = create_merchant()
    assert cli("links", "show", "lnk_nope").exit_code == 3
    assert cli("links", "deactivate", "lnk_nope").exit_code == 3
    assert cli("links", "list", "--merchant", "mer_nope").exit_code == 3
    assert cli("links", "create", "--merchant", "mer_nope", "--description", "x").exit_code == 3
    assert cli("links", "create", "--merchant", merchant_id, "--description", "x", "--amount", "ten").exit_code == 2
    assert cli("links", "create", "--merchant", merchant_id, "--description", "x", "--max-uses", "0").exit_code == 2
    assert cli("links", "create", "--merchant", merchant_id, "--description", "x", "--rail", "usdt-bsc").exit_code == 2


def test_cli_links_refuse_a_fixed_amount_outside_its_currencys_bounds(stack):
    """Below KES 10, above KES 1,000,000 or with cents: exit 2 naming --amount and why; no link is made."""
    merchant_id = create_merchant()
    create = ("links", "create", "--merchant", merchant_id, "--description", "x", "--amount")
    for amount, why in (("5", "below"), ("1000001", "above"), ("12.50", "whole")):
        refused = cli(*create, amount)
        assert refused.exit_code == 2 and "--amount:" in refused.output and why in refused.output, refused.output
    assert cli_json("links", "list", "--merchant", merchant_id)["links"] == []
    assert cli_json(*create, "10")["amount"] == {"amount": "10.00", "asset": "KES"}
