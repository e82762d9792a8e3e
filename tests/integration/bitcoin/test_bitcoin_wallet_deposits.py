"""Wallet deposits on Bitcoin through the Esplora-shaped simulator over HTTP, read by the production
``BitcoinWatcher`` (mempool included), addresses from the production ``BitcoinAddressDeriver`` (bc1q): seen in the
mempool, credited at the wallet requirement, and withdrawn when an RBF replacement pays someone else."""

from __future__ import annotations

import pytest
from cryptopay.adapters.bitcoin.addresses import BitcoinAddressDeriver
from cryptopay.adapters.bitcoin.esplora import EsploraClient
from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher
from cryptopay.core.money import Money
from cryptopay.core.rails import rail_for
from cryptopay.core.retry import Backoff
from cryptopay.core.wallets.deposit import DepositState

from tests.support.deposit_stack import deposit_stack

OTHER = "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"


@pytest.fixture
def bitcoin(served):
    chain, url = served
    chain.reset()
    watcher = BitcoinWatcher(EsploraClient(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None))
    stack = deposit_stack(
        speed="bitcoin=2",
        derivers={"bitcoin": BitcoinAddressDeriver(ZPUB)},
        watchers={"bitcoin": watcher},
        rails=[rail_for("bitcoin", "BTC")],
    )
    return stack, chain, watcher


def test_a_bitcoin_deposit_is_seen_in_the_mempool_and_credited_at_two_confirmations(bitcoin):
    """Unconfirmed: seen, nothing credited; one block: still seen; two: 0.002 BTC in the BTC balance."""
    stack, chain, watcher = bitcoin
    user = stack.sign_up("0712000001", tier=1)  # identified: 0.002 BTC is above what tier 0 may receive (H14)
    address = stack.address(user, "bitcoin")
    assert address.startswith("bc1q")
    chain.pay(address, 200_000)
    stack.deposits.record_mempool("bitcoin", watcher)
    deposit = stack.deposits.deposits(user.id)[0]
    assert (deposit.state, deposit.block_number) == (DepositState.SEEN, None)
    chain.mine(1)
    stack.sync()
    assert stack.deposits.deposits(user.id)[0].state is DepositState.SEEN
    chain.mine(1)
    stack.sync()
    assert stack.deposits.deposits(user.id)[0].state is DepositState.CREDITED
    assert stack.balance(user, "BTC") == Money.of("0.002", "BTC")


def test_a_mempool_deposit_replaced_to_another_address_is_withdrawn(bitcoin):
    """RBF sends the coins elsewhere before a block: the deposit is withdrawn and nothing was ever credited."""
    stack, chain, watcher = bitcoin
    user = stack.sign_up("0712000001")
    txid = chain.pay(stack.address(user, "bitcoin"), 200_000)
    stack.deposits.record_mempool("bitcoin", watcher)
    chain.replace(txid, to=OTHER)
    stack.deposits.confirm("bitcoin", watcher, None, watcher)
    assert stack.deposits.deposits(user.id)[0].state is DepositState.WITHDRAWN
    assert stack.balance(user, "BTC") == Money.of("0", "BTC")
