"""Bitcoin withdrawals against the Esplora-shaped simulator: P2WPKH signed by bitcoinlib, fee from estimates, once."""

from __future__ import annotations

import pytest
from bitcoinlib.transactions import Transaction
from cryptopay.adapters.bitcoin.esplora import EsploraClient
from cryptopay.adapters.bitcoin.keys import new_hot_key
from cryptopay.adapters.bitcoin.sender import BitcoinSender, estimate_vsize
from cryptopay.core.errors import IdempotencyConflict, InsufficientFunds, InvalidInput
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import TxState, WithdrawalRequest
from cryptopay.core.retry import Backoff
from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys

CUSTOMER = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"


@pytest.fixture
def btc(served):
    chain, url = served
    chain.reset()
    hot = new_hot_key()
    store = InMemoryWithdrawalStore()
    api = EsploraClient(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None)
    sender = BitcoinSender(
        api,
        hot_address=hot.address,
        keys=StaticKeys({hot.address: hot.private_key.reveal()}),
        store=store,
        confirmations=2,
    )
    return {"chain": chain, "hot": hot, "store": store, "sender": sender}


def _request(withdrawal_id="wd_1", amount="0.001", to=CUSTOMER):
    return WithdrawalRequest(withdrawal_id, "bitcoin", to, Money.of(amount, "BTC"))


def test_bitcoin_withdrawal_pays_the_customer_with_the_estimated_fee_and_change(btc):
    """The transaction verifies, pays 100000 sats, returns change to the hot wallet and pays rate x vsize in fee."""
    chain = btc["chain"]
    chain.fund(btc["hot"].address, 300_000)
    sent = btc["sender"].send(_request())
    tx = chain.txs[sent.tx_hash]
    outputs = {o["scriptpubkey_address"]: o["value"] for o in tx["vout"]}
    assert outputs[CUSTOMER] == 100_000
    expected_fee = int((estimate_vsize(1, 2) * 8).to_integral_value(rounding="ROUND_CEILING"))  # 8 sat/vB, 6 blocks
    assert outputs[btc["hot"].address] == 300_000 - 100_000 - expected_fee
    assert sent.fee == Money.from_minor(expected_fee, "BTC")
    parsed = Transaction.parse_hex(btc["store"].get("wd_1").raw_tx, network="bitcoin")
    parsed.inputs[0].value = 300_000
    assert parsed.verify() and parsed.inputs[0].sequence == 0xFFFFFFFD
    chain.mine()
    assert btc["sender"].status("wd_1").state is TxState.PENDING
    chain.mine()
    assert btc["sender"].status("wd_1").state is TxState.CONFIRMED


def test_bitcoin_withdrawal_retry_is_the_same_single_transaction(btc):
    """A retry returns the same txid and the mempool holds one transaction; a changed request is a conflict."""
    chain = btc["chain"]
    chain.fund(btc["hot"].address, 300_000)
    first = btc["sender"].send(_request())
    again = btc["sender"].send(_request())
    assert again.tx_hash == first.tx_hash and chain.mempool == [first.tx_hash]
    chain.mine()
    assert btc["sender"].send(_request()).tx_hash == first.tx_hash
    with pytest.raises(IdempotencyConflict):
        btc["sender"].send(_request(amount="0.002"))


def test_bitcoin_lost_broadcast_is_rebroadcast_byte_for_byte(btc):
    """If the node lost the transaction, a retry broadcasts the stored signed bytes again."""
    chain = btc["chain"]
    chain.fund(btc["hot"].address, 300_000)
    first = btc["sender"].send(_request())
    assert chain.forget_mempool() == 1
    assert btc["sender"].send(_request()).tx_hash == first.tx_hash
    assert chain.mempool == [first.tx_hash]


def test_bitcoin_withdrawal_refuses_bad_addresses_and_missing_funds(btc):
    """A testnet address, dust, or more than the hot wallet holds is refused before anything is signed."""
    btc["chain"].fund(btc["hot"].address, 50_000)
    with pytest.raises(InvalidInput, match="testnet"):
        btc["sender"].send(_request(to="tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"))
    with pytest.raises(InvalidInput, match="dust"):
        btc["sender"].send(_request(amount="0.00000100"))
    with pytest.raises(InsufficientFunds):
        btc["sender"].send(_request("wd_big", amount="0.01"))
    assert btc["store"].get("wd_big").raw_tx is None
