"""The Bitcoin watcher against the Esplora-shaped simulator over HTTP: payments, depth, RBF, reorgs, outages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.adapters.bitcoin.esplora import EsploraClient
from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher
from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.chains import TxState
from cryptopay.core.rails import BITCOIN
from cryptopay.core.retry import Backoff
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.testing.chains import InMemoryScanCursorStore

OURS = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
OTHER = "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


@pytest.fixture
def sim(served):
    chain, url = served
    chain.reset()
    return chain, url


def _watcher(url, attempts=2):
    return BitcoinWatcher(EsploraClient(url, backoff=Backoff(initial=0.01, attempts=attempts), sleep=lambda s: None))


def test_bitcoin_watcher_sees_mempool_then_confirmed_payments_to_our_addresses(sim):
    """A payment shows in the mempool first, then in the scanned block with its depth; others' payments do not."""
    chain, url = sim
    watcher = _watcher(url)
    start = chain.height + 1
    txid = chain.pay(OURS, 150_000)
    chain.pay(OTHER, 99_000)
    (pending,) = watcher.pending([OURS])
    assert pending.tx_hash == txid and pending.block_number is None and pending.amount.amount == Decimal("0.0015")
    assert watcher.transfer_state(pending) is TxState.PENDING and watcher.confirmations(pending) == 0
    chain.mine()
    (confirmed,) = watcher.scan(start, chain.height, [OURS])
    assert (confirmed.tx_hash, confirmed.index, confirmed.block_number) == (txid, 0, chain.height)
    chain.mine(2)
    assert watcher.confirmations(confirmed) == 3
    assert watcher.transfer_state(confirmed) is TxState.CONFIRMED


def test_bitcoin_rbf_replacement_reports_the_payment_dropped(sim):
    """When the payer replaces the payment by RBF (paying themselves), the original is DROPPED and never confirms."""
    chain, url = sim
    watcher = _watcher(url)
    txid = chain.pay(OURS, 150_000)
    (pending,) = watcher.pending([OURS])
    chain.replace(txid)
    assert watcher.transfer_state(pending) is TxState.DROPPED
    assert watcher.pending([OURS]) == []
    chain.mine()
    assert watcher.confirmations(pending) == 0 and watcher.scan(0, chain.height, [OURS]) == []


def test_bitcoin_reorg_that_drops_a_payment_takes_its_confirmations_away(sim):
    """A payment whose block is reorganised away (and double-spent) loses its confirmations and is DROPPED."""
    chain, url = sim
    watcher = _watcher(url)
    chain.pay(OURS, 150_000, mine=True)
    (paid,) = watcher.scan(chain.height, chain.height, [OURS])
    assert watcher.confirmations(paid) == 1
    chain.reorg(1, drop=True)
    assert watcher.confirmations(paid) == 0
    assert watcher.transfer_state(paid) is TxState.DROPPED


def test_bitcoin_failing_esplora_backs_off_and_the_cursor_does_not_advance(sim):
    """While Esplora fails the scanner raises Unavailable and keeps its cursor; after recovery it catches up."""
    chain, url = sim
    cursors = InMemoryScanCursorStore()
    scanner = ChainScanner(_watcher(url, attempts=3), cursors, start_block=1)
    chain.pay(OURS, 10_000, mine=True)
    assert len(scanner.step([OURS], lambda transfers: None).transfers) == 1
    saved = cursors.load("bitcoin")
    chain.pay(OURS, 20_000, mine=True)
    chain.failures_left = -1
    with pytest.raises(Unavailable, match="bitcoin node failed 3 times"):
        scanner.step([OURS], lambda transfers: None)
    assert cursors.load("bitcoin") == saved
    chain.failures_left = 0
    recovered = scanner.step([OURS], lambda transfers: None)
    assert [t.amount.minor_units for t in recovered.transfers] == [20_000]


def test_bitcoin_history_is_paged_back_to_the_start_of_the_range(sim):
    """An address with more than one page of history still yields every payment in the range."""
    chain, url = sim
    for _ in range(30):
        chain.pay(OURS, 1_000, mine=True)
    assert len(_watcher(url).scan(1, chain.height, [OURS])) == 30


def test_bitcoin_watcher_reads_the_mined_unspent_balance_of_an_address(sim):
    """An address's balance counts mined unspent outputs only: a payment still in the mempool is not on chain yet."""
    chain, url = sim
    chain.pay(OURS, 150_000)
    chain.mine()
    chain.pay(OURS, 20_000)  # in the mempool
    watcher = _watcher(url)
    assert watcher.balance(OURS, BITCOIN.token("BTC").asset).amount == Decimal("0.0015")
