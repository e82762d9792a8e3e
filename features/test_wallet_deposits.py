"""wallet_deposits.feature in memory: the deposit use cases over the fakes, Polygon a fake chain."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import ObservedTransfer
from pytest_bdd import scenarios

from features.wallet_deposits_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.support.deposit_stack import DepositStack, deposit_stack

scenarios("wallet_deposits.feature")


@attrs.define
class FakeWorld:
    stack: DepositStack
    friend: str = "0x00000000000000000000000000000000000f2e4d"
    address: str = ""
    paid: ObservedTransfer | None = None

    def send(self, address: str, amount: str, asset: str = "USDT") -> None:
        self.paid = self.stack.send(address, "polygon", Money.of(amount, asset), self.friend)

    def mine(self, blocks: int) -> None:
        for _ in range(blocks):
            self.stack.chains["polygon"].mine()

    def drop_the_deposit_block(self) -> None:
        chain = self.stack.chains["polygon"]
        assert self.paid is not None and self.paid.block_number is not None
        chain.reorg(chain.head() - self.paid.block_number + 1)
        chain.mine()

    def mine_the_transfer_again(self) -> None:
        assert self.paid is not None
        self.paid = self.stack.chains["polygon"].include(self.paid)


@pytest.fixture
def deposits_world() -> FakeWorld:
    return FakeWorld(deposit_stack())
