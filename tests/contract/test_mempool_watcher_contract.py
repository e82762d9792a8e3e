"""The MempoolWatcher contract (Bitcoin's unconfirmed payments, seen at once and told apart when dropped), held by
the in-memory ``FakeMempool`` and by the real ``BitcoinWatcher`` over HTTP to the Esplora simulator.

Each kit pays a watched address into the mempool, mines the mempool into a block, and drops a waiting payment (on
the simulator: an RBF replacement that pays someone else instead)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.money import BTC, Money
from cryptopay.core.ports.chains import MempoolWatcher, ObservedTransfer, TxState
from cryptopay.core.testing.payments_stack import FakeChain, FakeMempool
from cryptopay.core.testing.system import ManualClock

OURS = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
OTHER = "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
SATS = 150_000  # 0.0015 BTC


@attrs.frozen
class Kit:
    """A watcher, and how to pay an address (``pay(address, sats)`` -> tx hash), mine, and drop a payment."""

    watcher: MempoolWatcher
    pay: Callable[[str, int], str]
    mine: Callable[[], object]
    drop: Callable[[str], object]


@pytest.fixture
def fake_kit() -> Kit:
    mempool = FakeMempool(FakeChain("bitcoin", ManualClock()))

    def pay(address: str, sats: int) -> str:
        return mempool.broadcast(address, Money.of(Decimal(sats).scaleb(-8), BTC)).tx_hash

    return Kit(mempool, pay, mempool.mine, mempool.drop)


@pytest.fixture
def esplora_kit(esplora) -> Kit:
    from cryptopay.adapters.bitcoin.esplora import EsploraClient
    from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher
    from cryptopay.core.retry import Backoff

    chain, url = esplora
    chain.reset()
    watcher = BitcoinWatcher(EsploraClient(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None))
    return Kit(
        watcher,
        lambda address, sats: chain.pay(address, sats),
        chain.mine,
        lambda txid: chain.replace(txid, to=OTHER),
    )


@pytest.fixture(params=["fake", "esplora"])
def kit(request) -> Kit:
    return request.getfixturevalue(f"{request.param}_kit")


def _only(transfers: list[ObservedTransfer], tx_hash: str) -> ObservedTransfer:
    [transfer] = [t for t in transfers if t.tx_hash == tx_hash]
    return transfer


def test_an_unconfirmed_payment_to_a_watched_address_is_pending_without_block_fields(kit: Kit) -> None:
    """``pending`` lists it at once: the address, the amount in BTC, no block number, hash or time."""
    txid = kit.pay(OURS, SATS)
    transfer = _only(kit.watcher.pending([OURS]), txid)
    assert transfer.network == "bitcoin" and transfer.to_address == OURS
    assert transfer.amount == Money.of("0.0015", BTC)
    assert (transfer.block_number, transfer.block_hash, transfer.block_time) == (None, None, None)
    assert kit.watcher.transfer_state(transfer) is TxState.PENDING


def test_payments_to_other_addresses_are_not_listed(kit: Kit) -> None:
    """Only the asked addresses' payments come back; no address asked, nothing listed."""
    kit.pay(OTHER, SATS)
    assert [t for t in kit.watcher.pending([OURS]) if t.to_address != OURS] == []
    assert kit.watcher.pending([OURS]) == []
    assert kit.watcher.pending([]) == []


def test_a_mined_payment_leaves_the_mempool_and_is_confirmed(kit: Kit) -> None:
    """Once in a block it is no longer pending, and its unconfirmed sighting reports CONFIRMED (not dropped)."""
    txid = kit.pay(OURS, SATS)
    seen = _only(kit.watcher.pending([OURS]), txid)
    kit.mine()
    assert [t for t in kit.watcher.pending([OURS]) if t.tx_hash == txid] == []
    assert kit.watcher.transfer_state(seen) is TxState.CONFIRMED


def test_a_dropped_payment_is_no_longer_pending_and_reports_dropped(kit: Kit) -> None:
    """Replaced, double-spent or evicted: gone from ``pending`` and DROPPED, so the invoice can move back."""
    txid = kit.pay(OURS, SATS)
    seen = _only(kit.watcher.pending([OURS]), txid)
    kit.drop(txid)
    assert [t for t in kit.watcher.pending([OURS]) if t.tx_hash == txid] == []
    assert kit.watcher.transfer_state(seen) is TxState.DROPPED


def test_a_payment_the_network_never_saw_is_dropped(kit: Kit) -> None:
    """A transaction unknown to the network (a node restarted with an empty mempool) is DROPPED, not PENDING."""
    txid = kit.pay(OURS, SATS)
    seen = _only(kit.watcher.pending([OURS]), txid)
    unknown = attrs.evolve(seen, tx_hash="ab" * 32)
    assert kit.watcher.transfer_state(unknown) is TxState.DROPPED


def test_a_payment_still_waiting_stays_pending_while_others_are_mined_or_dropped(kit: Kit) -> None:
    """Dropping one payment does not disturb another waiting to the same address."""
    first, second = kit.pay(OURS, SATS), kit.pay(OURS, SATS + 1_000)
    kit.drop(first)
    waiting = _only(kit.watcher.pending([OURS]), second)
    assert waiting.amount == Money.of("0.00151", BTC)
    assert kit.watcher.transfer_state(waiting) is TxState.PENDING
