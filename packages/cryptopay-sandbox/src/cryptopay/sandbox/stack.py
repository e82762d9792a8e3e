"""The whole local sandbox in one process: anvil with test USDT and USDC, and the Daraja, FX, SMS, TronGrid and Esplora
simulators.

``python -m cryptopay.sandbox.stack --manifest PATH`` starts everything on loopback, writes a JSON manifest
(every endpoint, the token contracts, the chain id, the funded test accounts and their keys: sandbox only) and runs
until SIGTERM/SIGINT (or, with ``--exit-with PID``, until that process has ended), then stops everything and removes
the manifest; anvil, its child, ends with it even when it is killed outright. ``cryptopay sandbox up|down|status``
drives it. The manifest's ``env`` block is what a client sets to point cryptopay at the sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from cryptopay.adapters._processes import watch_parent
from cryptopay.sandbox._server import RunningServer, serve_in_thread

__all__ = ["SandboxStack", "main"]

PAYER_ACCOUNTS = (1, 2, 3)  # anvil dev accounts funded with test USDT; account 0 deploys and mints
USDT_PER_PAYER = 1_000_000


class SandboxStack:
    """Start and stop every simulator; ``manifest()`` describes what is running."""

    def __init__(
        self, *, block_time: float | None = 1.0, callback_delay: float = 1.0, directory: Path | None = None
    ) -> None:
        self.directory = directory or Path(".cryptopay")
        self.block_time = block_time
        self.callback_delay = callback_delay
        self._servers: list[RunningServer] = []
        self._stoppers: list[Any] = []
        self._manifest: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        try:
            self._manifest = {"pid": os.getpid(), "evm": self._start_anvil(), **self._start_simulators()}
        except BaseException:
            self.stop()
            raise
        self._manifest["env"] = self._client_env()
        return self._manifest

    def _start_anvil(self) -> dict[str, Any]:
        from cryptopay.sandbox.anvil import AnvilNode, deploy_tokens, dev_account_key, mint_all
        from eth_account import Account

        node = AnvilNode.start(block_time=self.block_time)
        self._stoppers.append(node.stop)
        # Sent together and mined together: a block for the deployments and one for the mints, not one for each.
        usdt, usdc = deploy_tokens(node.url, ["USDT", "USDC"], decimals=6)
        accounts = []
        mints: list[tuple[str, str, int]] = []
        for index in PAYER_ACCOUNTS:
            key = dev_account_key(index)
            address = Account.from_key(key).address
            mints += [(usdt, address, USDT_PER_PAYER * 10**6), (usdc, address, USDT_PER_PAYER * 10**6)]
            accounts.append(
                {
                    "index": index,
                    "address": address,
                    "private_key": "0x" + key.hex(),
                    "usdt": USDT_PER_PAYER,
                    "usdc": USDT_PER_PAYER,
                }
            )
        mint_all(node.url, mints)
        return {
            "rpc_url": node.url,
            "chain_id": node.chain_id,
            "block_time": self.block_time,
            "usdt": {"address": usdt, "decimals": 6},
            "usdc": {"address": usdc, "decimals": 6},
            "funded_accounts": accounts,
        }

    def _serve(self, app: Any) -> str:
        server = serve_in_thread(app)
        self._servers.append(server)
        return server.url

    def _start_simulators(self) -> dict[str, Any]:
        from cryptopay.sandbox.certs import make_test_certificate
        from cryptopay.sandbox.daraja import DarajaSandbox, DarajaSandboxConfig
        from cryptopay.sandbox.esplora import create_esplora_simulator
        from cryptopay.sandbox.fx import SANDBOX_API_KEY, create_fx_simulator
        from cryptopay.sandbox.sms import SANDBOX_API_KEY as SMS_API_KEY
        from cryptopay.sandbox.sms import SANDBOX_USERNAME as SMS_USERNAME
        from cryptopay.sandbox.sms import create_sms_simulator
        from cryptopay.sandbox.tron_chain import TronChain
        from cryptopay.sandbox.trongrid import create_trongrid_simulator

        # Tron's clock starts now (blocks follow every 3 s of `mine`), and the chain has a test USDT (TRC20).
        tron = TronChain(start_ms=int(time.time() * 1000))
        tron_usdt = tron.deploy_token("USDT")
        # Like Safaricom: the client encrypts the initiator password with this certificate, the sandbox decrypts it.
        certificate = make_test_certificate()
        certificate_path = self.directory / "sandbox-daraja-cert.pem"
        certificate_path.write_bytes(certificate.certificate_pem)
        config = DarajaSandboxConfig(callback_delay=self.callback_delay, private_key_pem=certificate.private_key_pem)
        daraja = DarajaSandbox(config)
        daraja.start()
        self._stoppers.append(daraja.stop)
        settings = {**daraja.client_settings(), "certificate_path": str(certificate_path)}
        return {
            "daraja": {key: value for key, value in settings.items() if key != "production"},
            "fx": {"url": self._serve(create_fx_simulator()), "api_key": SANDBOX_API_KEY},
            "sms": {"url": self._serve(create_sms_simulator()), "username": SMS_USERNAME, "api_key": SMS_API_KEY},
            "trongrid": {"url": self._serve(create_trongrid_simulator(tron)), "usdt": tron_usdt},
            "esplora": {"url": self._serve(create_esplora_simulator())},
        }

    def _client_env(self) -> dict[str, str]:
        daraja = self._manifest["daraja"]
        env = {f"CRYPTOPAY_MPESA_{key.upper()}": str(value) for key, value in daraja.items()}
        env.update(CRYPTOPAY_MPESA_PRODUCTION="false", CRYPTOPAY_MPESA_ALLOW_SANDBOX="true")
        env["CRYPTOPAY_FX_SANDBOX_URL"] = self._manifest["fx"]["url"]
        sms = self._manifest["sms"]
        env["CRYPTOPAY_SMS_PROVIDER"] = "africastalking"
        env["CRYPTOPAY_SMS_BASE_URL"] = sms["url"]
        env["CRYPTOPAY_SMS_USERNAME"] = sms["username"]
        env["CRYPTOPAY_SMS_API_KEY"] = sms["api_key"]
        env["CRYPTOPAY_ETHEREUM_RPC_URL"] = self._manifest["evm"]["rpc_url"]
        env["CRYPTOPAY_ETHEREUM_CHAIN_ID"] = str(self._manifest["evm"]["chain_id"])
        env["CRYPTOPAY_ETHEREUM_USDT_CONTRACT"] = self._manifest["evm"]["usdt"]["address"]
        env["CRYPTOPAY_ETHEREUM_USDC_CONTRACT"] = self._manifest["evm"]["usdc"]["address"]
        env["CRYPTOPAY_TRON_API_URL"] = self._manifest["trongrid"]["url"]
        env["CRYPTOPAY_TRON_USDT_CONTRACT"] = self._manifest["trongrid"]["usdt"]
        env["CRYPTOPAY_ESPLORA_URL"] = self._manifest["esplora"]["url"]
        return env

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        for stopper in reversed(self._stoppers):
            stopper()
        self._servers.clear()
        self._stoppers.clear()


def main(argv: list[str] | None = None) -> int:
    """Run the stack until SIGTERM/SIGINT, with the manifest written to ``--manifest``."""
    parser = argparse.ArgumentParser(prog="cryptopay-sandbox")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--callback-delay", type=float, default=1.0)
    parser.add_argument("--exit-with", type=int, default=None, help="stop once this process id has ended")
    args = parser.parse_args(argv)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    if args.exit_with is not None:  # a test run's process: its end, however abrupt, stops the sandbox
        watch_parent(args.exit_with, stopped.set)
    args.manifest.parent.mkdir(parents=True, exist_ok=True)
    stack = SandboxStack(
        block_time=args.block_time or None, callback_delay=args.callback_delay, directory=args.manifest.parent
    )
    manifest = stack.start()
    try:
        args.manifest.parent.mkdir(parents=True, exist_ok=True)
        partial = args.manifest.with_suffix(".tmp")
        partial.write_text(json.dumps(manifest, indent=2))
        partial.chmod(0o600)  # it holds the funded test accounts' keys (sandbox only, but still)
        partial.replace(args.manifest)
        stopped.wait()
    finally:
        stack.stop()
        args.manifest.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
