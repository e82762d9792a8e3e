"""``cryptopay wallets deposits|deposit-addresses|release-deposit`` over the deposit use case (in memory)."""

from __future__ import annotations

import json

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.deposit_stack import DepositStack, deposit_stack
from tests.support.services import in_memory_services, with_wallets

app = build_app()
runner = CliRunner()
SANCTIONED = "0xbad0000000000000000000000000000000000bad"


@pytest.fixture
def stack():
    deposits = deposit_stack()
    services = with_wallets(in_memory_services(clock=deposits.clock), deposits.wallet)
    previous = use_services(attrs.evolve(services, wallet_deposits=ready(deposits.deposits)))
    yield deposits
    use_services(previous)


def _wallets(*args: str):
    return runner.invoke(app, ["wallets", *args])


def test_an_operator_sees_a_wallets_addresses_and_deposits(stack: DepositStack):
    """Addresses per network by phone; the deposits with their state, confirmations and requirement."""
    user = stack.sign_up("0712000001", username="amina", tier=1)  # 40 USDT is above what tier 0 may receive
    addresses = json.loads(_wallets("deposit-addresses", "@amina", "--json").stdout)["addresses"]
    assert [a["network"] for a in addresses] == ["bitcoin", "bsc", "ethereum", "polygon", "tron"]
    stack.pay(user, "polygon", "40")
    stack.mine("polygon", 2)
    listed = _wallets("deposits", "0712000001", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["deposits"]
    assert [(r["network"], r["amount"], r["state"], r["confirmations"]) for r in rows] == [
        ("polygon", "40.000000", "credited", 3)
    ]
    table = _wallets("deposits", user.id)
    assert table.exit_code == 0 and "credited" in table.stdout
    assert _wallets("deposits", "0799999999").exit_code == 3


def test_the_shell_cannot_release_a_deposit_held_for_a_sanctioned_sender(stack: DepositStack):
    """Review8 R7: held for a sanctioned sender, a release from the shell is refused (exit 5) and audited by the
    operator; nothing is credited and the blocking alert stays open (two officers release it, on the API)."""
    user = stack.sign_up("0712000001")
    stack.list_address("polygon", SANCTIONED)
    stack.pay(user, "polygon", "40", sender=SANCTIONED)
    stack.mine("polygon", 2)
    held = json.loads(_wallets("deposits", user.id, "--json").stdout)["deposits"][0]
    assert (held["state"], held["reason"]) == ("held", "sanctioned_sender")
    assert _wallets("release-deposit", held["id"]).exit_code == 2
    refused = _wallets("release-deposit", held["id"], "--note", "looks fine to me")
    assert refused.exit_code == 5, refused.output
    assert "/v1/admin/compliance/held-deposits/" in refused.output
    assert json.loads(_wallets("deposits", user.id, "--json").stdout)["deposits"][0]["state"] == "held"
    assert stack.balance(user, "USDT").is_zero()
    records = stack.wallet.backend.storage.audit_records()
    refusal = [r for r in records if r.action == "wallet.deposit_release_refused"]
    assert len(refusal) == 1 and refusal[0].actor.startswith("ops:")
    assert "wallet.deposit_released" not in [r.action for r in records]
    assert [a.status.value for a in stack.monitoring.alerts()] == ["open"]


def test_the_shell_releases_dust_but_never_a_deposit_held_for_the_tier(stack: DepositStack):
    """Review10 R10-15: 40 USDT (KES 5,200) to a phone-only wallet is held ``tier_limit``; its release from the shell
    is refused (exit 5), audited ``wallet.deposit_release_refused`` by the operator, nothing credited (two officers
    release it, on the console or the API). Dust is still one operator's call, with a note (audited)."""
    user = stack.sign_up("0712000001")
    stack.pay(user, "polygon", "40")
    stack.mine("polygon", 2)
    held = json.loads(_wallets("deposits", user.id, "--json").stdout)["deposits"][0]
    assert (held["state"], held["reason"]) == ("held", "tier_limit")
    refused = _wallets("release-deposit", held["id"], "--note", "ID seen at the agent, KYC on its way")
    assert refused.exit_code == 5, refused.output
    with stack.uow() as uow:
        assert [r.action for r in uow.audit.records()][-1] == "wallet.deposit_release_refused"
    assert stack.balance(user, "USDT").is_zero()
    stack.pay(user, "polygon", "0.5")  # dust
    stack.mine("polygon", 2)
    dust = next(
        d for d in json.loads(_wallets("deposits", user.id, "--json").stdout)["deposits"] if d["id"] != held["id"]
    )
    assert (dust["state"], dust["reason"]) == ("held", "below_minimum")
    released = _wallets("release-deposit", dust["id"], "--note", "the customer asked")
    assert released.exit_code == 0, released.output
    assert json.loads(released.stdout)["state"] == "credited"
    with stack.uow() as uow:
        assert [r.action for r in uow.audit.records()][-1] == "wallet.deposit_released"
    assert _wallets("release-deposit", dust["id"], "--note", "again").exit_code == 4
    assert _wallets("release-deposit", "dep_nothing", "--note", "x").exit_code == 3
