"""`cryptopay sandbox up|status|down` runs the whole local sandbox in the background, idempotently."""

import json
import os
import subprocess
import sys

import httpx
import pytest
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.core.ports.sms import SmsMessage
from cryptopay_cli.commands.sandbox import sandbox_running
from web3 import Web3

pytestmark = pytest.mark.anvil

ERC20_BALANCE = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]


def cryptopay(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cryptopay_cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _an_sms_through_the_manifest_env_reaches_the_simulator(manifest: dict, data_dir: str) -> None:
    services = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": data_dir, **manifest["env"]}))
    try:
        assert services.sms is not None
        message_id = services.sms.send(SmsMessage.to_phone("0712345678", "sandbox hello"))
    finally:
        services.close()
    outbox = httpx.get(manifest["sms"]["url"] + "/_sandbox/sms/outbox?to=254712345678", timeout=5).json()
    assert [(m["message_id"], m["text"]) for m in outbox["messages"]] == [(message_id, "sandbox hello")]


PAID = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"  # any address: the README's first dev invoice's


def _sandbox_pay_sends_a_signed_transfer_from_a_payer(manifest: dict, env: dict[str, str]) -> None:
    """`cryptopay sandbox pay` (the README's way to pay an invoice): the amount in the token's units from the payer
    named; a bad address, amount, payer or token is exit 2 and sends nothing."""
    evm = manifest["evm"]
    w3 = Web3(Web3.HTTPProvider(evm["rpc_url"]))
    usdt = w3.eth.contract(address=evm["usdt"]["address"], abi=ERC20_BALANCE)
    usdc = w3.eth.contract(address=evm["usdc"]["address"], abi=ERC20_BALANCE)
    payer = evm["funded_accounts"][1]
    paid = cryptopay("sandbox", "pay", PAID, "12.5", "--payer", "2", "--json", env=env)
    assert paid.returncode == 0, paid.stderr
    sent = json.loads(paid.stdout)
    assert (sent["from"], sent["to"], sent["amount"], sent["asset"]) == (payer["address"], PAID, "12.500000", "USDT")
    assert w3.eth.get_transaction_receipt(sent["tx_hash"])["blockNumber"] == sent["block"]
    assert usdt.functions.balanceOf(PAID).call() == 12_500_000
    assert usdt.functions.balanceOf(payer["address"]).call() == 1_000_000 * 10**6 - 12_500_000
    assert cryptopay("sandbox", "pay", PAID, "0.25", "--asset", "usdc", env=env).returncode == 0
    assert usdc.functions.balanceOf(PAID).call() == 250_000
    for bad in (
        [PAID.replace("Ef", "ef", 1), "1"],  # the EIP-55 checksum broken (one letter's case)
        [PAID, "1.0000001"],  # finer than the token's 6 decimals
        [PAID, "0"],
        [PAID, "1", "--payer", "9"],
        [PAID, "1", "--asset", "BTC"],
    ):
        refused = cryptopay("sandbox", "pay", *bad, env=env)
        assert refused.returncode == 2, (bad, refused.stdout, refused.stderr)
    assert usdt.functions.balanceOf(PAID).call() == 12_500_000
    assert usdc.functions.balanceOf(PAID).call() == 250_000


def test_sandbox_up_status_down(tmp_path) -> None:
    """Up starts anvil with funded payers and every simulator (its env reaches the SMS one), a second up reuses it,
    down stops it all."""
    env = {**os.environ, "CRYPTOPAY_DATA_DIR": str(tmp_path)}
    started = cryptopay("sandbox", "up", "--block-time", "0", "--json", env=env)
    assert started.returncode == 0, started.stderr
    manifest = json.loads(started.stdout)
    try:
        assert (tmp_path / "sandbox.json").exists()
        evm = manifest["evm"]
        w3 = Web3(Web3.HTTPProvider(evm["rpc_url"]))
        token = w3.eth.contract(address=evm["usdt"]["address"], abi=ERC20_BALANCE)
        payer = evm["funded_accounts"][0]
        assert token.functions.balanceOf(payer["address"]).call() == 1_000_000 * 10**6
        for name in ("fx", "sms", "trongrid", "esplora"):
            assert httpx.get(manifest[name]["url"] + "/", timeout=5).status_code < 500
        assert manifest["env"]["CRYPTOPAY_MPESA_BASE_URL"] == manifest["daraja"]["base_url"]
        _an_sms_through_the_manifest_env_reaches_the_simulator(manifest, str(tmp_path / "client"))
        again = cryptopay("sandbox", "up", "--json", env=env)
        assert json.loads(again.stdout)["pid"] == manifest["pid"]
        status = cryptopay("sandbox", "status", env=env)
        assert status.returncode == 0 and "cryptopay sandbox pay ADDRESS AMOUNT" in status.stdout  # says how to pay
        _sandbox_pay_sends_a_signed_transfer_from_a_payer(manifest, env)
        assert sandbox_running(tmp_path)  # so `make demo` reuses it and leaves it running for `serve --dev`
    finally:
        stopped = cryptopay("sandbox", "down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not (tmp_path / "sandbox.json").exists()
    assert cryptopay("sandbox", "status", env=env).returncode == 1
    assert cryptopay("sandbox", "pay", PAID, "1", env=env).returncode == 1  # no sandbox: nothing to pay from
    assert not sandbox_running(tmp_path)
