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
        assert cryptopay("sandbox", "status", env=env).returncode == 0
        assert sandbox_running(tmp_path)  # so `make demo` reuses it and leaves it running for `serve --dev`
    finally:
        stopped = cryptopay("sandbox", "down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not (tmp_path / "sandbox.json").exists()
    assert cryptopay("sandbox", "status", env=env).returncode == 1
    assert not sandbox_running(tmp_path)
