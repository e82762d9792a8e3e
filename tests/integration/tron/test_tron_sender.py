"""Tron withdrawals and sweeps against the TronGrid-shaped simulator: signed with tronpy, sent once, fee-limited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.adapters.tron.client import TronApi
from cryptopay.adapters.tron.keys import new_hot_key
from cryptopay.adapters.tron.sender import TronSender
from cryptopay.adapters.tron.sweep import SweepStage, TronSweeper
from cryptopay.adapters.tron.transactions import TronTransactions, signed_transaction
from cryptopay.core.errors import IdempotencyConflict
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import TxState, WithdrawalRequest
from cryptopay.core.rails import rail_for
from cryptopay.core.retry import Backoff
from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys
from tronpy.keys import PublicKey, Signature

CUSTOMER = "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"


@pytest.fixture
def tron(served):
    chain, url = served
    chain.reset()
    usdt = chain.deploy_token("USDT")
    hot, gas, deposit = new_hot_key(), new_hot_key(), new_hot_key()
    keys = StaticKeys({k.address: k.private_key.reveal() for k in (hot, gas, deposit)})
    api = TronApi(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None)
    store = InMemoryWithdrawalStore()
    txs = TronTransactions(api, keys=keys, store=store)
    rails = [rail_for("tron", "USDT", contract=usdt), rail_for("tron", "TRX")]
    yield {
        "chain": chain,
        "usdt": usdt,
        "hot": hot,
        "gas": gas,
        "deposit": deposit,
        "txs": txs,
        "store": store,
        "sender": TronSender(txs, hot_address=hot.address, rails=rails),
    }


def _request(env, withdrawal_id="wd_1", amount="25"):
    return WithdrawalRequest(withdrawal_id, "tron", CUSTOMER, Money.of(amount, "USDT"), token_contract=env["usdt"])


def test_tron_withdrawal_is_signed_by_the_hot_key_and_confirmed_once_solidified(tron):
    """The stored transaction's signature verifies with tronpy against the hot wallet's key, and the transfer lands."""
    chain, usdt, hot = tron["chain"], tron["usdt"], tron["hot"]
    chain.fund(hot.address, sun=50_000_000, token=usdt, amount=100_000_000)
    sent = tron["sender"].send(_request(tron))
    assert sent.state is TxState.PENDING
    txn = signed_transaction(tron["store"].get("wd_1").raw_tx)
    signature = Signature.fromhex(txn.to_json()["signature"][0])
    assert PublicKey.fromhex(hot.public_key).verify_msg_hash(bytes.fromhex(txn.txid), signature)
    assert signature.recover_public_key_from_msg_hash(bytes.fromhex(txn.txid)).to_base58check_address() == hot.address
    assert 0 < txn.to_json()["raw_data"]["fee_limit"] <= 100_000_000
    chain.mine()
    assert tron["sender"].status("wd_1").state is TxState.PENDING
    chain.solidify()
    done = tron["sender"].status("wd_1")
    assert done.state is TxState.CONFIRMED and done.fee.asset.code == "TRX" and done.confirmations == 1
    assert chain.token_balance(usdt, CUSTOMER) == 25_000_000


def test_tron_withdrawal_retry_never_broadcasts_a_second_transaction(tron):
    """Sending the same withdrawal again (before and after mining) returns the same tx and moves funds once."""
    chain, usdt, hot = tron["chain"], tron["usdt"], tron["hot"]
    chain.fund(hot.address, sun=50_000_000, token=usdt, amount=100_000_000)
    first = tron["sender"].send(_request(tron))
    assert tron["sender"].send(_request(tron)).tx_hash == first.tx_hash
    chain.mine()
    chain.solidify()
    assert tron["sender"].send(_request(tron)).tx_hash == first.tx_hash
    assert chain.token_balance(usdt, CUSTOMER) == 25_000_000
    with pytest.raises(IdempotencyConflict):
        tron["sender"].send(_request(tron, amount="26"))


def test_tron_retry_after_a_lost_broadcast_rebroadcasts_the_same_bytes(tron):
    """If the node forgot the transaction (lost broadcast), a retry sends the stored signed bytes again."""
    chain, usdt, hot = tron["chain"], tron["usdt"], tron["hot"]
    chain.fund(hot.address, sun=50_000_000, token=usdt, amount=100_000_000)
    first = tron["sender"].send(_request(tron))
    assert chain.forget_pending() == 1
    again = tron["sender"].send(_request(tron))
    assert again.tx_hash == first.tx_hash
    chain.mine()
    chain.solidify()
    assert tron["sender"].status("wd_1").state is TxState.CONFIRMED


def test_tron_fee_limit_too_low_for_the_energy_fails_the_withdrawal(tron):
    """A transfer whose energy burn exceeds fee_limit is mined as OUT_OF_ENERGY and reported FAILED."""
    chain, usdt, hot = tron["chain"], tron["usdt"], tron["hot"]
    chain.fund(hot.address, sun=50_000_000, token=usdt, amount=100_000_000)
    txs = TronTransactions(tron["txs"]._api, keys=tron["txs"]._keys, store=tron["store"], fee_margin=Decimal("0.5"))
    rails = [rail_for("tron", "USDT", contract=usdt)]
    sender = TronSender(txs, hot_address=hot.address, rails=rails)
    sender.send(_request(tron, "wd_low"))
    chain.mine()
    failed = sender.status("wd_low")
    assert failed.state is TxState.FAILED and failed.fee.is_positive()
    assert chain.token_balance(usdt, CUSTOMER) == 0


def test_tron_sweep_tops_up_trx_then_moves_the_whole_balance(tron):
    """A deposit address with USDT and no TRX gets exactly the missing TRX from the gas wallet, then is swept."""
    chain, usdt = tron["chain"], tron["usdt"]
    gas, hot, deposit = tron["gas"], tron["hot"], tron["deposit"]
    chain.fund(gas.address, sun=500_000_000)
    chain.fund(deposit.address, token=usdt, amount=70_000_000)
    sweeper = TronSweeper(tron["txs"], gas_address=gas.address, hot_address=hot.address)
    step = sweeper.sweep("sw_1", deposit=deposit.address, contract=usdt)
    assert step.stage is SweepStage.TOPPING_UP and step.top_up_sun > 0
    assert sweeper.sweep("sw_1", deposit=deposit.address, contract=usdt).stage is SweepStage.TOPPING_UP
    chain.mine()
    chain.solidify()
    assert chain.trx_balance(deposit.address) == step.top_up_sun
    assert sweeper.sweep("sw_1", deposit=deposit.address, contract=usdt).stage is SweepStage.SWEEPING
    chain.mine()
    chain.solidify()
    assert sweeper.sweep("sw_1", deposit=deposit.address, contract=usdt).stage is SweepStage.SWEPT
    assert chain.token_balance(usdt, hot.address) == 70_000_000
    assert chain.token_balance(usdt, deposit.address) == 0


def test_tron_sweep_skips_the_top_up_when_the_deposit_already_holds_enough_trx(tron):
    """A deposit address that already holds enough TRX for fee_limit gets no top-up: the transfer goes out at once."""
    chain, usdt, deposit = tron["chain"], tron["usdt"], tron["deposit"]
    chain.fund(deposit.address, token=usdt, amount=5_000_000, sun=30_000_000)
    sweeper = TronSweeper(tron["txs"], gas_address=tron["gas"].address, hot_address=tron["hot"].address)
    assert sweeper.sweep("sw_2", deposit=deposit.address, contract=usdt).stage is SweepStage.SWEEPING
