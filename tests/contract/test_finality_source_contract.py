"""The FinalitySource contract (a network's own finality signal), held by the fake chain and every real watcher:
EVM on anvil (``safe``/``finalized`` block tags), Tron on the TronGrid simulator (solidified head), Bitcoin on the
Esplora simulator (no signal at all)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest
from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.chains import FinalitySource
from cryptopay.core.rails import Finality, rail_for
from cryptopay.core.testing.payments_stack import FakeChain
from cryptopay.core.testing.system import ManualClock

from tests.support.chain_simulators import served_esplora, served_trongrid


@attrs.frozen
class Kit:
    """A source, how to move its chain on (``advance``), its head, and the signals its network offers."""

    source: FinalitySource
    advance: Callable[[], None]
    head: Callable[[], int]
    signals: tuple[Finality, ...]


@pytest.fixture
def fake_kit() -> Kit:
    chain = FakeChain("ethereum", ManualClock())

    def advance() -> None:
        for _ in range(10):
            chain.mine()
        chain.finals[Finality.SAFE] = chain.head() - 4
        chain.finals[Finality.FINALIZED] = chain.head() - 8

    return Kit(chain, advance, chain.head, (Finality.SAFE, Finality.FINALIZED))


@pytest.fixture
def evm_kit() -> Iterator[Kit]:
    from cryptopay.adapters.evm.watcher import EvmWatcher
    from cryptopay.sandbox.anvil import AnvilNode

    try:
        node = AnvilNode.start()
    except Unavailable as error:
        pytest.fail(f"the EVM contract needs anvil: {error.message}", pytrace=False)
    try:
        watcher = EvmWatcher(node.url, [rail_for("ethereum", "USDT", chain_id=node.chain_id)])
        yield Kit(watcher, lambda: node.rpc("anvil_mine", hex(40)), watcher.head, (Finality.SAFE, Finality.FINALIZED))
    finally:
        node.stop()


@pytest.fixture
def tron_kit() -> Iterator[Kit]:
    with served_trongrid() as (chain, url):
        from cryptopay.adapters.tron.watcher import TronWatcher

        watcher = TronWatcher(url, [rail_for("tron", "USDT", contract=chain.deploy_token("USDT"))])

        def advance() -> None:
            chain.mine(10)
            chain.solidify(chain.head - 3)

        yield Kit(watcher, advance, watcher.head, (Finality.FINALIZED,))


@pytest.fixture
def bitcoin_kit() -> Iterator[Kit]:
    with served_esplora() as (chain, url):
        from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher

        watcher = BitcoinWatcher(url)

        def advance() -> None:
            chain.mine(10)

        yield Kit(watcher, advance, watcher.head, ())


@pytest.fixture(params=["fake", "evm", "tron", "bitcoin"])
def kit(request) -> Kit:
    if request.param == "evm":
        request.applymarker(pytest.mark.anvil)
    return request.getfixturevalue(f"{request.param}_kit")


def test_a_signal_the_network_lacks_is_none_and_one_it_has_names_a_block_at_or_below_the_head(kit: Kit) -> None:
    """Offered signals name a block no higher than the head once the chain has moved on; others are None."""
    kit.advance()
    for finality in Finality:
        final = kit.source.final_block(finality)
        if finality in kit.signals:
            assert final is not None and 0 <= final <= kit.head()
        else:
            assert final is None


def test_finalized_never_passes_safe_and_neither_goes_back(kit: Kit) -> None:
    """``finalized`` trails or equals ``safe``, and both only move forward as blocks are added."""
    kit.advance()
    before = {f: kit.source.final_block(f) for f in kit.signals}
    kit.advance()
    after = {f: kit.source.final_block(f) for f in kit.signals}
    for finality in kit.signals:
        old, new = before[finality], after[finality]
        assert old is not None and new is not None and new >= old
    if Finality.SAFE in kit.signals:
        assert after[Finality.FINALIZED] <= after[Finality.SAFE]  # type: ignore[operator]
