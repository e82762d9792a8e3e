"""The Tron watcher against the TronGrid-shaped simulator over HTTP: transfers, transferFrom, solidity, outages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.adapters.tron.client import TronApi
from cryptopay.adapters.tron.watcher import TronWatcher
from cryptopay.core.errors import Unavailable
from cryptopay.core.rails import rail_for
from cryptopay.core.retry import Backoff
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.testing.chains import InMemoryScanCursorStore

PAYER = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
OURS = "TAFEmhbjjnTAnqRag2w9ke9J2cYiWzvyHr"
OTHER = "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
ROUTER = "TXLAQ63Xg1NAzckPwKHvzw7CSEmLMEqcdj"


@pytest.fixture
def sim(served):
    chain, url = served
    chain.reset()
    return chain, chain.deploy_token("USDT"), url


def _watcher(url, usdt, attempts=2):
    api = TronApi(url, backoff=Backoff(initial=0.01, attempts=attempts), sleep=lambda s: None)
    return TronWatcher(api, [rail_for("tron", "USDT", contract=usdt)], page_size=2)


def test_tron_watcher_sees_transfer_and_transfer_from_to_our_addresses_only(sim):
    """A direct transfer and a transferFrom via a router contract are both seen; transfers to others are not."""
    chain, usdt, url = sim
    start = chain.head + 1
    direct = chain.transfer_token(usdt, PAYER, OURS, 1_500_000)
    chain.transfer_token(usdt, PAYER, OTHER, 9_000_000)
    via_router = chain.transfer_token(usdt, PAYER, OURS, 2_000_000, method="transferFrom", caller=ROUTER)
    found = _watcher(url, usdt).scan(start, chain.head, [OURS])
    assert [(t.tx_hash, t.amount.amount) for t in found] == [(direct, Decimal("1.5")), (via_router, Decimal("2"))]
    assert all(t.to_address == OURS and t.from_address == PAYER and t.token_contract == usdt for t in found)
    assert found[0].block_hash == chain.blocks[found[0].block_number].block_id


def test_tron_confirmations_come_from_solidified_blocks_and_vanish_on_reorg(sim):
    """Confirmations are 0 until solidified, then grow with the solid head; a reorganised block gives 0."""
    chain, usdt, url = sim
    watcher = _watcher(url, usdt)
    chain.transfer_token(usdt, PAYER, OURS, 1_000_000)
    (transfer,) = watcher.scan(chain.head, chain.head, [OURS])
    chain.mine(3)
    assert watcher.confirmations(transfer) == 0
    chain.solidify(transfer.block_number + 2)
    assert watcher.confirmations(transfer) == 3
    chain.transfer_token(usdt, PAYER, OURS, 1_000_000)
    (late,) = watcher.scan(chain.head, chain.head, [OURS])
    chain.reorg(2)
    assert watcher.confirmations(late) == 0
    assert watcher.scan(late.block_number, chain.head, [OURS]) == []


def test_tron_failing_api_backs_off_and_the_cursor_does_not_advance(sim):
    """While the API fails the scanner raises Unavailable and keeps its cursor; after recovery it catches up."""
    chain, usdt, url = sim
    cursors = InMemoryScanCursorStore()
    scanner = ChainScanner(_watcher(url, usdt, attempts=3), cursors, start_block=1)
    chain.transfer_token(usdt, PAYER, OURS, 1_000_000)
    first = scanner.step([OURS], lambda transfers: None)
    saved = cursors.load("tron")
    assert len(first.transfers) == 1 and saved.block_number == chain.head
    chain.transfer_token(usdt, PAYER, OURS, 2_000_000)
    chain.failures_left = -1
    with pytest.raises(Unavailable, match="tron node failed 3 times"):
        scanner.step([OURS], lambda transfers: None)
    assert cursors.load("tron") == saved
    chain.failures_left = 0
    recovered = scanner.step([OURS], lambda transfers: None)
    assert [t.amount.amount for t in recovered.transfers] == [Decimal("2")]
    assert cursors.load("tron").block_time == recovered.transfers[0].block_time


def test_tron_a_transient_failure_is_retried_transparently(sim):
    """Two failed requests within the backoff budget do not surface as an error."""
    chain, usdt, url = sim
    chain.transfer_token(usdt, PAYER, OURS, 1_000_000)
    chain.failures_left = 2
    assert len(_watcher(url, usdt, attempts=4).scan(1, chain.head, [OURS])) == 1


def test_tron_watcher_reads_the_token_balance_of_an_address(sim):
    """The USDT balance at an address is its ``balanceOf``, in the token's decimals (for custody reconciliation)."""
    chain, usdt, url = sim
    chain.transfer_token(usdt, PAYER, OURS, 1_500_000)
    chain.transfer_token(usdt, PAYER, OURS, 250_000)
    watcher = _watcher(url, usdt)
    assert watcher.balance(OURS, rail_for("tron", "USDT").asset).amount == Decimal("1.75")
    assert watcher.balance(OTHER, rail_for("tron", "USDT").asset).amount == 0


def test_tron_finality_is_the_solidified_head_and_there_is_no_safe_signal(sim):
    """``finalized`` is the TronGrid solidity node's head; Tron offers no weaker ``safe`` signal."""
    from cryptopay.core.rails import Finality

    chain, usdt, url = sim
    watcher = _watcher(url, usdt)
    chain.transfer_token(usdt, PAYER, OURS, 1_000_000)
    chain.mine(3)
    assert watcher.final_block(Finality.FINALIZED) == chain.solid_number == 0
    chain.solidify(chain.head - 1)
    assert watcher.final_block(Finality.FINALIZED) == chain.head - 1
    assert watcher.final_block(Finality.SAFE) is None
