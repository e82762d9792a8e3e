"""wallet_deposits.feature on real parts: PostgreSQL for the wallets, the deposit addresses, the deposits, the
monitoring and the books; Polygon is a real node (anvil, with the test USDT of tests/integration/evm), read by the
production ``EvmWatcher`` (which reads the test USDC, a second ERC-20, at the same addresses); addresses derived by the production ``EvmAddressDeriver`` from an xpub; a reorg is an
``evm_revert`` to before the deposit and a longer branch mined in its place. Each scenario starts from empty
tables and must leave the books balanced."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import attrs
import pytest
from cryptopay.adapters.evm.addresses import EvmAddressDeriver
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core.rails import rail_for
from cryptopay.sandbox.anvil import dev_account_key
from eth_account import Account
from pytest_bdd import scenarios
from sqlalchemy.engine import Engine

from features.real_parts import database_url, journey_engine, postgres_admin_url  # noqa: F401  (fixtures, by name)
from features.wallet_deposits_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.contract.conftest import sql_backend_from_engine
from tests.integration.evm.conftest import FAST, EvmEnv, evm  # noqa: F401  (the session's anvil, by name)
from tests.support.deposit_stack import DepositStack, deposit_stack
from tests.support.sql_backends import empty_postgres

pytestmark = pytest.mark.anvil

scenarios("wallet_deposits.feature")

_forks = itertools.count(1)


@attrs.define
class AnvilWorld:
    stack: DepositStack
    evm: EvmEnv
    friend: str = Account.from_key(dev_account_key(1)).address  # the dev account ``EvmEnv.pay`` sends from
    address: str = ""
    raw: str = ""
    snapshot: str = ""

    def send(self, address: str, amount: str, asset: str = "USDT") -> None:
        self.snapshot = self.evm.node.rpc("evm_snapshot")
        token = self.evm.usdc6 if asset == "USDC" else self.evm.usdt6  # both with 6 decimals
        self.raw = self.evm.pay(token, address, int(amount) * 10**6)

    def mine(self, blocks: int) -> None:
        self.evm.mine(blocks)

    def drop_the_deposit_block(self) -> None:
        self.evm.node.rpc("evm_revert", self.snapshot)
        # The other branch's blocks get other timestamps, so they are other blocks (see test_evm_watch_anvil).
        latest = self.evm.w3.eth.get_block("latest")["timestamp"]
        self.evm.node.rpc("evm_setNextBlockTimestamp", hex(latest + 1_000 + next(_forks)))
        self.evm.mine(4)

    def mine_the_transfer_again(self) -> None:
        receipt = self.evm.w3.eth.send_raw_transaction(self.raw)
        self.evm.w3.eth.wait_for_transaction_receipt(receipt, timeout=30, poll_latency=0.05)


@pytest.fixture
def deposits_world(
    journey_engine: Engine,  # noqa: F811  (the fixture, by name)
    evm: EvmEnv,  # noqa: F811
) -> Iterator[AnvilWorld]:
    empty_postgres(journey_engine)
    rails = [
        rail_for("polygon", asset, contract=token, chain_id=evm.node.chain_id, confirmations=3)
        for asset, token in (("USDT", evm.usdt6), ("USDC", evm.usdc6))
    ]
    watcher = EvmWatcher(evm.w3, rails, backoff=FAST)
    stack = deposit_stack(
        sql_backend_from_engine(journey_engine),
        derivers={"polygon": EvmAddressDeriver(evm.xpub)},
        watchers={"polygon": watcher},
        rails=rails,
    )
    yield AnvilWorld(stack, evm)
    assert set(stack.wallet.ledger.trial_balance().values()) <= {0}
