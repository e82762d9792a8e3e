"""EVM integration fixtures: one anvil node per session (instant mining), test USDTs and USDCs with 6 and 18
decimals (Ethereum and Polygon tokens have 6, BSC's Binance-Peg ones 18).

anvil comes from node_modules (``npm install`` at the repo root); when it is missing the fixture fails with
that instruction, never skips: CI must not pass without the real-node tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from cryptopay.adapters.evm.keys import HdKeyring, account_xpub
from cryptopay.adapters.evm.rpc import Backoff, connect
from cryptopay.core.errors import Unavailable
from cryptopay.core.rails import Rail, rail_for
from cryptopay.sandbox.anvil import (
    AnvilNode,
    compile_contracts,
    deploy_payer,
    deploy_token,
    dev_account_key,
)
from eth_account import Account
from web3 import Web3

# The receiving wallet: not anvil's mnemonic, so deposit addresses start with no ETH (sweeps must top up gas).
DEPOSIT_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
FAST = Backoff(initial=0.01, factor=2, maximum=0.05, attempts=3)


@attrs.frozen
class EvmEnv:
    """The shared node and what is deployed on it."""

    node: AnvilNode
    w3: Web3
    usdt6: str
    usdt18: str
    payer: str
    xpub: str
    deposit_keys: HdKeyring
    abi: list[dict[str, Any]]
    payer_abi: list[dict[str, Any]]
    usdc6: str = ""
    usdc18: str = ""

    def rails(self, *, confirmations: int = 3) -> list[Rail]:
        """USDT rails on ethereum (6 decimals) and bsc-style (18 decimals) pointing at the local contracts."""
        chain = self.node.chain_id
        return [
            rail_for("ethereum", "USDT", contract=self.usdt6, chain_id=chain, confirmations=confirmations),
            attrs.evolve(
                rail_for("ethereum", "USDT", contract=self.usdt18, chain_id=chain, confirmations=confirmations),
                token=attrs.evolve(rail_for("bsc", "USDT").token, contract=self.usdt18),
            ),
        ]

    def token(self, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.abi)

    def pay(self, token: str, to: str, units: int, *, payer_index: int = 1) -> str:
        """A plain ``transfer`` from anvil dev account ``payer_index``, signed locally; returns the raw tx hex."""
        account = Account.from_key(dev_account_key(payer_index))
        tx = (
            self.token(token)
            .functions.transfer(Web3.to_checksum_address(to), units)
            .build_transaction(
                {"from": account.address, "nonce": self.w3.eth.get_transaction_count(account.address, "pending")}
            )
        )
        signed = account.sign_transaction(tx)
        raw = "0x" + bytes(signed.raw_transaction).hex()
        # Mined before we return, even when the machine is slow: a scan right after must see it.
        self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(raw), timeout=30, poll_latency=0.05)
        return raw

    def mine(self, blocks: int = 1) -> None:
        self.node.rpc("anvil_mine", hex(blocks))


_counter = itertools.count(1)


@pytest.fixture(scope="session")
def evm() -> Iterator[EvmEnv]:
    """A session anvil node on a free loopback port with both test USDTs and the payer contract deployed."""
    try:
        compile_contracts()
        node = AnvilNode.start()
    except Unavailable as error:
        pytest.fail(f"the EVM integration tests need anvil and solc-js: {error.message}", pytrace=False)
    try:
        w3 = connect(node.url)
        usdt6 = deploy_token(node.url, decimals=6)
        usdt18 = deploy_token(node.url, decimals=18)
        usdc6 = deploy_token(node.url, decimals=6, symbol="USDC")
        usdc18 = deploy_token(node.url, decimals=18, symbol="USDC")
        owner = w3.eth.accounts[0]
        payer = deploy_payer(node.url)
        artifacts = compile_contracts()
        env = EvmEnv(
            node,
            w3,
            usdt6,
            usdt18,
            payer,
            account_xpub(DEPOSIT_MNEMONIC),
            HdKeyring.from_mnemonic(DEPOSIT_MNEMONIC, max_index=500),
            artifacts["TetherToken"].abi,
            artifacts["PayerContract"].abi,
            usdc6,
            usdc18,
        )
        for token in (usdc6, usdc18):  # only the default payer holds USDC: fewer setup blocks on the shared node
            holder = Web3.to_checksum_address(Account.from_key(dev_account_key(1)).address)
            w3.eth.wait_for_transaction_receipt(
                env.token(token).functions.mint(holder, 10**30).transact({"from": owner})
            )
        for token in (usdt6, usdt18):
            contract = env.token(token)
            for index in range(4):
                holder = Web3.to_checksum_address(Account.from_key(dev_account_key(index)).address)
                w3.eth.wait_for_transaction_receipt(contract.functions.mint(holder, 10**30).transact({"from": owner}))
            w3.eth.wait_for_transaction_receipt(contract.functions.mint(payer, 10**30).transact({"from": owner}))
        yield env
    finally:
        node.stop()


@pytest.fixture
def fresh_index() -> int:
    """A deposit index no other test in this session used (so each test watches its own addresses)."""
    return next(_counter) * 7
