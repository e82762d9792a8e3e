"""Wallet deposits on Tron through the TronGrid-shaped simulator over HTTP, read by the production ``TronWatcher``,
addresses from the production ``TronAddressDeriver``: credited only once the block is solidified (the default
wallet requirement on Tron), and withdrawn when a reorg drops an unsolidified block."""

from __future__ import annotations

import pytest
from bitcoinlib.keys import HDKey
from bitcoinlib.mnemonic import Mnemonic
from cryptopay.adapters.tron.addresses import TronAddressDeriver
from cryptopay.adapters.tron.client import TronApi
from cryptopay.adapters.tron.watcher import TronWatcher
from cryptopay.core.money import Money
from cryptopay.core.rails import rail_for
from cryptopay.core.retry import Backoff
from cryptopay.core.wallets.deposit import DepositState

from tests.support.deposit_stack import deposit_stack

PAYER = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
XPUB = (
    HDKey.from_seed(Mnemonic().to_seed("abandon " * 11 + "about"), witness_type="legacy")
    .key_for_path("m/44'/195'/0'")
    .wif_public()
)


@pytest.fixture
def tron(served):
    chain, url = served
    chain.reset()
    usdt = chain.deploy_token("USDT")
    rail = rail_for("tron", "USDT", contract=usdt)
    api = TronApi(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None)
    stack = deposit_stack(
        speed="", derivers={"tron": TronAddressDeriver(XPUB)}, watchers={"tron": TronWatcher(api, [rail])}, rails=[rail]
    )
    return stack, chain, usdt


def test_a_tron_deposit_is_credited_once_its_block_is_solidified(tron):
    """Seen at once, still seen however deep until solidified, then credited: 10 USDT in the one USDT balance."""
    stack, chain, usdt = tron
    user = stack.sign_up("0712000001")
    address = stack.address(user, "tron")
    assert address.startswith("T") and stack.deposits.address(user.id, "tron").requirement == "finalized"
    chain.transfer_token(usdt, PAYER, address, 10_000_000)
    stack.sync()
    chain.mine(5)
    stack.sync()
    deposit = stack.deposits.deposits(user.id)[0]
    assert (deposit.state, deposit.from_address) == (DepositState.SEEN, PAYER)
    chain.solidify()
    stack.sync()
    assert stack.deposits.deposits(user.id)[0].state is DepositState.CREDITED
    assert stack.balance(user, "USDT") == Money.of("10", "USDT")


def test_a_reorg_of_an_unsolidified_tron_block_withdraws_the_deposit(tron):
    """The block is replaced before it is solidified: withdrawn, nothing credited, the books balanced."""
    stack, chain, usdt = tron
    user = stack.sign_up("0712000001")
    chain.transfer_token(usdt, PAYER, stack.address(user, "tron"), 10_000_000)
    stack.sync()
    chain.reorg(1)
    chain.mine(1)
    chain.solidify()
    stack.sync()
    assert stack.deposits.deposits(user.id)[0].state is DepositState.WITHDRAWN
    assert stack.balance(user, "USDT") == Money.of("0", "USDT")
    assert set(stack.wallet.ledger.trial_balance().values()) <= {0}
