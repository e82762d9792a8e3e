"""The EVM watcher reads the node's own finality signals (``safe`` and ``finalized`` block tags) on real anvil.

On a node of its own: the ~70 blocks this mines run block times ahead of the clock, and on the shared session node
later tests' re-mined blocks would then repeat their hashes (hiding the reorgs they make).
"""

from __future__ import annotations

import pytest
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core.errors import Unavailable
from cryptopay.core.rails import Finality, rail_for
from cryptopay.sandbox.anvil import AnvilNode

from .conftest import FAST

pytestmark = pytest.mark.anvil


def test_a_block_becomes_safe_then_finalized_as_the_node_tags_later_blocks() -> None:
    """A new block is below neither tag at first; the safe tag passes it before the finalized tag does."""
    try:
        node = AnvilNode.start()
    except Unavailable as error:
        pytest.fail(f"the EVM integration tests need anvil: {error.message}", pytrace=False)
    try:
        watcher = EvmWatcher(node.url, [rail_for("ethereum", "USDT", chain_id=node.chain_id)], backoff=FAST)
        node.rpc("anvil_mine", hex(5))
        block = watcher.head()

        def carries(finality: Finality) -> bool:
            final = watcher.final_block(finality)
            return final is not None and block <= final

        assert not carries(Finality.SAFE) and not carries(Finality.FINALIZED)
        while not carries(Finality.SAFE):
            node.rpc("anvil_mine", hex(8))
        assert not carries(Finality.FINALIZED)  # safe comes first: finalized trails it
        while not carries(Finality.FINALIZED):
            node.rpc("anvil_mine", hex(8))
        safe, final = watcher.final_block(Finality.SAFE), watcher.final_block(Finality.FINALIZED)
        assert safe is not None and final is not None and final < safe <= watcher.head()
    finally:
        node.stop()
