"""wallet_withdrawals.feature on real parts: PostgreSQL for the wallets, withdrawals, books, monitoring and sanctions
lists, and a real ERC-20 (the test USDT, 6 decimals) sent by the production ``EvmSender`` from a hot wallet on a local
anvil node, its nonces and signed transactions kept in PostgreSQL. Confirmation is the node's own depth; a hot wallet
without tokens is refused by the sender before it signs. For an operator's ``resolve``, anvil mines only when told:
a withdrawal is "dropped" by ``anvil_dropTransaction`` and a transaction of the hot wallet's own taking its nonce,
or "forgotten" by ``anvil_dropTransaction`` alone (its nonce still free). Every scenario starts from empty tables and must leave the
books balanced."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from cryptopay.adapters.evm.addresses import validate_address
from cryptopay.adapters.evm.rpc import Backoff, connect
from cryptopay.adapters.evm.sender import EvmSender, erc20_balance
from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
from cryptopay.core.errors import Unavailable
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.money import USDT, Money
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.chains import StaticKeys
from cryptopay.core.wallets.withdrawal_model import Withdrawal
from cryptopay.sandbox.anvil import AnvilNode, compile_contracts, deploy_token, dev_account_key
from eth_account import Account
from eth_typing import HexStr
from pytest_bdd import scenarios
from sqlalchemy.engine import Engine
from web3 import Web3
from web3.exceptions import TransactionNotFound

from features.real_parts import (  # noqa: F401  (the real deployment's fixtures, by name)
    database_url,
    journey_engine,
    postgres_admin_url,
)
from features.wallet_withdrawals_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.wallet_withdrawals_steps import WithdrawWorld
from tests.contract.conftest import sql_backend_from_engine
from tests.support.sql_backends import empty_postgres
from tests.support.withdraw_stack import withdraw_stack

scenarios("wallet_withdrawals.feature")

FAST = Backoff(initial=0.01, factor=2, maximum=0.05, attempts=3)
HOT_INDEX = 5
# The deployment's own fee data for its test chain: the story's 1 USDT (the default's Ethereum schedule is 5 USDT).
ANVIL_FEES = FeeBook(
    (
        FeeSchedule(
            product=FeeProduct.CRYPTO_WITHDRAWAL,
            asset=USDT,
            version=1,
            effective_from=datetime(2026, 1, 1, tzinfo=UTC),
            fixed=Money.of("1", USDT),
        ),
    )
)


@pytest.fixture(scope="module")
def chain() -> Iterator[tuple[AnvilNode, Web3, str, Any]]:
    """A local anvil node with the test USDT deployed; the hot wallet (dev account 5) minted a million USDT."""
    try:
        artifacts = compile_contracts()
        node = AnvilNode.start()
    except Unavailable as error:
        pytest.fail(f"the real-parts withdrawals need anvil and solc-js: {error.message}", pytrace=False)
    try:
        w3 = connect(node.url)
        usdt = deploy_token(node.url, decimals=6)
        token = w3.eth.contract(address=Web3.to_checksum_address(usdt), abi=artifacts["TetherToken"].abi)
        hot = Account.from_key(dev_account_key(HOT_INDEX)).address
        w3.eth.wait_for_transaction_receipt(token.functions.mint(hot, 10**12).transact({"from": w3.eth.accounts[0]}))
        yield node, w3, usdt, token
    finally:
        node.stop()


@pytest.fixture
def withdraw_world(
    journey_engine: Engine,  # noqa: F811  (the fixture, by name)
    chain: tuple[AnvilNode, Web3, str, Any],
) -> Iterator[WithdrawWorld]:
    empty_postgres(journey_engine)
    node, w3, usdt, _ = chain
    rail = rail_for("ethereum", "USDT", contract=usdt, chain_id=node.chain_id, confirmations=2)
    store = SqlWithdrawalStore(journey_engine)
    key = dev_account_key(HOT_INDEX)
    hot = Account.from_key(key).address

    def sender_from(address: str, secret: bytes) -> EvmSender:
        keys = StaticKeys({address: secret})
        return EvmSender(w3, [rail], hot_wallet=address, keys=keys, store=store, confirmations=2, backoff=FAST)

    senders: dict[str, Any] = {"ethereum": sender_from(hot, key)}
    stack = withdraw_stack(
        sql_backend_from_engine(journey_engine),
        senders=senders,
        rails={rail.key: rail},
        validators={"ethereum": validate_address},
        estimators=senders,  # the real sender's gas estimate is the fee's floor (far below 1 USDT on anvil)
        fees=ANVIL_FEES,
        hot_wallets={"ethereum": hot},
    )
    stack.wallet.rates.set("ETH/KES", "400000")
    nonce = w3.eth.get_transaction_count(hot)
    address = Account.create().address  # Amina's own wallet: a fresh account nobody else uses

    def received(to: str) -> Money:
        return Money.of(Decimal(erc20_balance(w3, usdt, to)) / 10**6, USDT)

    def starve() -> None:
        empty = Account.create()  # a hot wallet that holds no USDT: the sender refuses before it signs
        senders["ethereum"] = sender_from(empty.address, bytes(empty.key))

    def tx_hash(w: Withdrawal) -> str:
        record = store.get(w.id)
        assert record is not None and record.tx_hash is not None
        return record.tx_hash

    def replace(w: Withdrawal) -> None:
        """The withdrawal leaves the mempool and the hot wallet's next transaction takes its nonce (mined)."""
        record = store.get(w.id)
        assert record is not None
        node.rpc("anvil_dropTransaction", tx_hash(w))
        fee = 2 * int(w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9
        other = {"type": 2, "chainId": node.chain_id, "nonce": record.nonce, "to": hot, "value": 0, "gas": 21_000}
        signed = Account.sign_transaction(other | {"maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9}, key)
        w3.eth.send_raw_transaction(signed.raw_transaction)
        node.rpc("anvil_mine", hex(1))

    def waiting(w: Withdrawal) -> bool:
        try:
            return w3.eth.get_transaction(HexStr(tx_hash(w)))["blockNumber"] is None
        except TransactionNotFound:
            return False

    try:
        yield WithdrawWorld(
            stack,
            "ethereum",
            address,
            confirm=lambda _w: node.rpc("anvil_mine", hex(2)),
            received=received,
            starve=starve,
            signed=lambda: w3.eth.get_transaction_count(hot) - nonce,
            hold_blocks=lambda: node.rpc("evm_setAutomine", False),
            replace=replace,
            forget=lambda w: node.rpc("anvil_dropTransaction", tx_hash(w)),
            waiting=waiting,
            hot=hot,
            deposit=Account.create().address,  # as a deriver would give Baraka's wallet
        )
    finally:
        node.rpc("evm_setAutomine", True)
    assert all(v == 0 for v in stack.wallet.ledger.trial_balance().values())
