"""The EVM watcher reads the node's own finality signals (``safe`` and ``finalized`` block tags) on real anvil."""

from __future__ import annotations

import pytest
from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core.rails import Finality

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil


def test_a_payment_becomes_safe_then_finalized_as_the_node_tags_later_blocks(evm: EvmEnv, fresh_index: int) -> None:
    """A mined payment is below neither tag at first; the safe tag passes it before the finalized tag does."""
    watcher = EvmWatcher(evm.w3, evm.rails(), backoff=FAST)
    ours = derive_address(evm.xpub, fresh_index)
    start = evm.w3.eth.block_number + 1
    evm.pay(evm.usdt6, ours, 1_000_000)
    [paid] = watcher.scan(start, evm.w3.eth.block_number, [ours])
    assert paid.block_number is not None

    def carries(finality: Finality) -> bool:
        final = watcher.final_block(finality)
        return final is not None and paid.block_number is not None and paid.block_number <= final

    assert not carries(Finality.SAFE) and not carries(Finality.FINALIZED)
    while not carries(Finality.SAFE):
        evm.mine(8)
    assert not carries(Finality.FINALIZED)  # safe comes first: finalized trails it
    while not carries(Finality.FINALIZED):
        evm.mine(8)
    safe, final = watcher.final_block(Finality.SAFE), watcher.final_block(Finality.FINALIZED)
    assert safe is not None and final is not None and final < safe <= watcher.head()
