"""A local anvil node for tests, the demo and ``cryptopay sandbox up``, plus the test tokens deployed on it.

anvil comes from the npm package ``@foundry-rs/anvil`` installed at the repo root (``npm install``); the
test contracts under ``tests/contracts_src`` are compiled by solc-js (``scripts/compile_contracts.js``) and the
result is cached in ``.cryptopay/build/`` keyed by the sources' hash.

Quick start (a 6-decimal USDT on a node with 1-second blocks)::

    with AnvilNode.start(block_time=1) as node:
        usdt = deploy_token(node.url, decimals=6)
        mint(node.url, usdt, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 1_000_000)
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from cryptopay.adapters._processes import die_with_parent
from cryptopay.core.errors import Unavailable
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from hexbytes import HexBytes
from web3 import Web3
from web3.types import TxReceipt

__all__ = [
    "DEFAULT_MNEMONIC",
    "ERC20_TRANSFER",
    "AnvilNode",
    "ContractArtifact",
    "anvil_binary",
    "compile_contracts",
    "deploy_contract",
    "deploy_payer",
    "deploy_token",
    "deploy_tokens",
    "dev_account_key",
    "free_port",
    "mint",
    "mint_all",
    "repo_root",
    "send_token",
]

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
ERC20_TRANSFER = [  # the one ABI entry a payer needs (the tokens' full ABI comes from compiling them)
    {
        "name": "transfer",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]
_NPM_HINT = "run `npm install` at the repo root (it installs @foundry-rs/anvil and solc into node_modules)"
_PLATFORMS = {
    ("Linux", "x86_64"): "linux-amd64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "arm64"): "darwin-arm64",
    ("Darwin", "x86_64"): "darwin-amd64",
}


def repo_root() -> Path:
    """The repo root: ``$CRYPTOPAY_REPO_ROOT``, else the nearest parent of cwd (then of this file) with package.json."""
    if env := os.environ.get("CRYPTOPAY_REPO_ROOT"):
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "package.json").is_file() and (folder / "pyproject.toml").is_file():
                return folder
    raise Unavailable("cannot find the cryptopay repo root (package.json); set CRYPTOPAY_REPO_ROOT")


def anvil_binary(root: Path | None = None) -> Path:
    """The anvil executable from node_modules: the platform package's native binary, else the npm shim."""
    modules = (root or repo_root()) / "node_modules"
    suffix = _PLATFORMS.get((platform.system(), platform.machine()))
    candidates = [modules / "@foundry-rs" / f"anvil-{suffix}" / "bin" / "anvil"] if suffix else []
    candidates.append(modules / ".bin" / "anvil")
    for candidate in candidates:
        if candidate.exists() and os.access(candidate, os.X_OK):
            return candidate
    raise Unavailable(f"anvil is not installed under {modules}: {_NPM_HINT}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310 (loopback URL)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.load(response)["result"]


@attrs.define
class AnvilNode:
    """A running anvil process on a loopback port; stop it with ``stop()`` or use it as a context manager."""

    url: str
    port: int
    chain_id: int
    process: subprocess.Popen[bytes]

    @classmethod
    def start(
        cls,
        *,
        port: int | None = None,
        block_time: float | None = None,
        chain_id: int = 31337,
        mnemonic: str = DEFAULT_MNEMONIC,
        hardfork: str = "cancun",
        prune_history: bool = False,
        extra_args: tuple[str, ...] = (),
        ready_timeout: float = 15.0,
    ) -> AnvilNode:
        """Start anvil (instant mining unless ``block_time`` seconds is given) and wait until it answers.

        Cancun is the default hardfork: the test contracts target it, and anvil 1.7 mines Prague/Osaka blocks
        far slower as the chain grows. ``prune_history`` keeps only recent states (fast long backlogs; no
        snapshots of old states).
        """
        port = port or free_port()
        args = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]
        args += ["--mnemonic", mnemonic, "--hardfork", hardfork, "--silent", *extra_args]
        if prune_history:
            args.append("--prune-history")
        if block_time is not None:
            args += ["--block-time", str(block_time)]
        # Ends with the process that started it, even one killed outright (a stopped pytest-xdist worker).
        process = subprocess.Popen(  # noqa: S603
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent()
        )
        node = cls(f"http://127.0.0.1:{port}", port, chain_id, process)
        node._wait_ready(ready_timeout)
        return node

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise Unavailable(f"anvil exited with code {self.process.returncode}: {error.strip()[:500]}")
            try:
                _rpc(self.url, "eth_chainId", timeout=0.5)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise Unavailable(f"anvil did not answer on {self.url} within {timeout} s")

    def rpc(self, method: str, *params: Any) -> Any:
        """Call a JSON-RPC method (e.g. ``evm_snapshot``, ``evm_mine``, ``anvil_setBalance``) and return the result."""
        return _rpc(self.url, method, list(params), timeout=10.0)

    def stop(self) -> None:
        """Terminate anvil and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dev_account_key(index: int, mnemonic: str = DEFAULT_MNEMONIC) -> bytes:
    """The private key of anvil's pre-funded dev account ``index`` (m/44'/60'/0'/0/index of the mnemonic)."""
    return key_from_seed(seed_from_mnemonic(mnemonic, ""), f"m/44'/60'/0'/0/{index}")


@attrs.frozen
class ContractArtifact:
    """A compiled contract: its ABI and creation bytecode (hex, 0x-prefixed)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def _sources_dir(root: Path) -> Path:
    return root / "tests" / "contracts_src"


def compile_contracts(root: Path | None = None) -> dict[str, ContractArtifact]:
    """Compile every ``tests/contracts_src/*.sol`` with solc-js, cached by the sources' SHA-256."""
    root = root or repo_root()
    sources = {p.name: p.read_text() for p in sorted(_sources_dir(root).glob("*.sol"))}
    digest = hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()[:16]
    cache = root / ".cryptopay" / "build" / f"contracts-{digest}.json"
    if not cache.exists():
        output = _run_solc(root, sources)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")  # processes compiling at once never share a half-written file
        tmp.write_text(json.dumps(output))
        tmp.replace(cache)
    output = json.loads(cache.read_text())
    return {
        name: ContractArtifact(name, data["abi"], "0x" + data["evm"]["bytecode"]["object"])
        for contracts in output["contracts"].values()
        for name, data in contracts.items()
    }


def _run_solc(root: Path, sources: dict[str, str]) -> dict[str, Any]:
    if not (root / "node_modules" / "solc").is_dir():
        raise Unavailable(f"solc-js is not installed under {root / 'node_modules'}: {_NPM_HINT}")
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": "cancun",
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    result = subprocess.run(  # noqa: S603
        ["node", str(root / "scripts" / "compile_contracts.js")],  # noqa: S607
        input=json.dumps(standard_input).encode(),
        capture_output=True,
        check=False,
        cwd=root,
        timeout=120,
    )
    if result.returncode != 0:
        raise Unavailable(f"solc-js failed: {result.stderr.decode(errors='replace')[:500]}")
    output: dict[str, Any] = json.loads(result.stdout)
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise Unavailable("solidity compilation failed:\n" + "\n".join(errors))
    return output


def _web3(url: str) -> Web3:
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))


def deploy_contract(url: str, artifact: ContractArtifact, *args: Any, deployer: str | None = None) -> str:
    """Deploy a contract from an unlocked dev account (anvil's account 0 by default); return its checksum address."""
    w3 = _web3(url)
    sender = deployer or w3.eth.accounts[0]
    contract = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = contract.constructor(*args).transact({"from": sender})
    receipt = _mined(w3, tx_hash)
    return str(receipt["contractAddress"])


def _mined(w3: Web3, tx_hash: HexBytes) -> TxReceipt:
    """Wait for a receipt, mining a block if the node does not mine on its own (``--no-mining``)."""
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
    if receipt["status"] != 1:
        raise Unavailable(f"transaction {tx_hash.hex()} reverted")
    return receipt


def deploy_token(url: str, *, decimals: int = 6, symbol: str = "USDT", deployer: str | None = None) -> str:
    """Deploy a Tether-like test token with ``decimals`` (6 like Ethereum USDT, 18 like BSC USDT)."""
    return deploy_tokens(url, [symbol], decimals=decimals, deployer=deployer)[0]


def deploy_tokens(url: str, symbols: Sequence[str], *, decimals: int = 6, deployer: str | None = None) -> list[str]:
    """Deploy one Tether-like test token per symbol, all sent before any is waited for: with a block every second,
    they are mined together instead of a block each. Returns their addresses in the order of ``symbols``."""
    w3 = _web3(url)
    sender = deployer or w3.eth.accounts[0]
    artifact = compile_contracts()["TetherToken"]
    contract = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sent = [contract.constructor(f"Test {symbol}", symbol, decimals).transact({"from": sender}) for symbol in symbols]
    return [str(_mined(w3, tx_hash)["contractAddress"]) for tx_hash in sent]


def deploy_payer(url: str, *, deployer: str | None = None) -> str:
    """Deploy the PayerContract (pays tokens from a contract, for contract-made payments)."""
    return deploy_contract(url, compile_contracts()["PayerContract"], deployer=deployer)


def mint(url: str, token: str, to: str, base_units: int, *, minter: str | None = None) -> str:
    """Mint test tokens (on-chain integer units) to an address; return the transaction hash."""
    return mint_all(url, [(token, to, base_units)], minter=minter)[0]


def mint_all(url: str, mints: Sequence[tuple[str, str, int]], *, minter: str | None = None) -> list[str]:
    """Mint each ``(token, to, base_units)``, all sent before any is waited for (mined together, not a block each);
    return the transaction hashes once every one is mined."""
    w3 = _web3(url)
    sender = minter or w3.eth.accounts[0]
    abi = compile_contracts()["TetherToken"].abi
    sent = [
        w3.eth.contract(address=Web3.to_checksum_address(token), abi=abi)
        .functions.mint(Web3.to_checksum_address(to), base_units)
        .transact({"from": sender})
        for token, to, base_units in mints
    ]
    for tx_hash in sent:
        _mined(w3, tx_hash)
    return ["0x" + bytes(tx_hash).hex() for tx_hash in sent]


def send_token(url: str, token: str, to: str, base_units: int, *, private_key: str) -> tuple[str, int]:
    """Send ``base_units`` of ``token`` to ``to`` in an ERC-20 ``transfer`` signed with ``private_key``, as a
    customer's wallet pays (a raw signed transaction, not an unlocked account); return the transaction hash
    (0x-prefixed) and its block once mined.

    The sandbox's funded payers (``cryptopay sandbox status --json``) hold the test USDT and USDC::

        tx_hash, block = send_token(evm["rpc_url"], evm["usdt"]["address"], address, 38_853_657,
                                    private_key=evm["funded_accounts"][0]["private_key"])
    """
    w3 = _web3(url)
    sender = w3.eth.account.from_key(private_key).address
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=ERC20_TRANSFER)
    tx = contract.functions.transfer(Web3.to_checksum_address(to), base_units).build_transaction(
        {"from": sender, "nonce": w3.eth.get_transaction_count(sender, "pending"), "chainId": w3.eth.chain_id}
    )
    tx_hash = w3.eth.send_raw_transaction(w3.eth.account.sign_transaction(tx, private_key).raw_transaction)
    receipt = _mined(w3, tx_hash)
    return "0x" + bytes(tx_hash).hex(), int(receipt["blockNumber"])
