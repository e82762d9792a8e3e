"""``cryptopay merchants create --tier`` and ``cryptopay merchants speed``: a store's speed policy from the CLI."""

from __future__ import annotations

from cryptopay.core.rails import Finality

from tests.integration.cli_payments.cli_payments_support import cli, cli_json, create_merchant


def test_cli_sets_shows_and_clears_a_speed_policy_with_an_audit_record(stack):
    """`merchants speed ID --tier ...` replaces the policy (audited), `--clear` removes it."""
    merchant_id = create_merchant()
    view = cli_json("merchants", "speed", merchant_id, "--tier", "usdt-tron:10000=1", "--tier", "usdt-tron=finalized")
    assert view["speed_policy"] == [
        {"rail": "usdt-tron", "up_to_kes": "10000", "confirmations": 1, "finality": None},
        {"rail": "usdt-tron", "up_to_kes": None, "confirmations": None, "finality": "finalized"},
    ]
    with stack.uow() as uow:
        store = uow.stores.get(merchant_id)
    assert store is not None and store.speed[1].finality is Finality.FINALIZED
    audited = [r for r in stack.storage.audit_records() if r.action == "store.speed_policy"]
    assert "usdt-tron up to 10000: 1 confirmations" in dict(audited[-1].details)["speed_policy"]
    assert cli_json("merchants", "speed", merchant_id, "--clear")["speed_policy"] == []


def test_cli_refuses_a_tier_the_network_cannot_honour_and_changes_nothing(stack):
    """Tron has no ``safe`` signal: exit 2 with the reason; the stored policy is untouched."""
    merchant_id = create_merchant()
    result = cli("merchants", "speed", merchant_id, "--tier", "usdt-tron=safe")
    assert result.exit_code == 2 and "tron has no 'safe' signal" in result.output
    with stack.uow() as uow:
        store = uow.stores.get(merchant_id)
    assert store is not None and store.speed == ()
    assert cli("merchants", "speed", merchant_id, "--tier", "usdt-tron=soon").exit_code == 2
    assert cli("merchants", "speed", "mer_missing", "--tier", "usdt-tron=1").exit_code == 3
