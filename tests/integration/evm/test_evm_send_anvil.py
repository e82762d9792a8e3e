"""EVM withdrawals and sweeps against a real anvil node: idempotency, restarts, concurrent nonces, gas top-ups."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.sender import EvmSender, erc20_balance
from cryptopay.adapters.evm.sweep import EvmSweeper, SweepState
from cryptopay.core.errors import IdempotencyConflict, InsufficientFunds
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import TxState, WithdrawalRecord, WithdrawalRequest
from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys
from cryptopay.sandbox.anvil import dev_account_key
from eth_account import Account
from web3 import Web3

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil

HOT_INDEX = 5  # anvil dev account 5 is the hot wallet: its own nonce, untouched by the other tests


def _hot() -> tuple[str, StaticKeys]:
    key = dev_account_key(HOT_INDEX)
    address = Account.from_key(key).address
    return address, StaticKeys({address: key})


def _sender(evm: EvmEnv, store: InMemoryWithdrawalStore, *, confirmations: int = 2) -> EvmSender:
    address, keys = _hot()
    return EvmSender(
        evm.w3, evm.rails(), hot_wallet=address, keys=keys, store=store, confirmations=confirmations, backoff=FAST
    )


def _usdt(evm: EvmEnv, wid: str, to: str, amount: str, *, contract: str | None = None) -> WithdrawalRequest:
    return WithdrawalRequest(wid, "ethereum", to, Money.of(amount, "USDT"), contract or evm.usdt6)


def _mined(evm: EvmEnv, *tx_hashes: str | None) -> None:
    """Wait for each transaction's receipt: anvil mines a sent transaction at once, but a loaded machine can answer
    a read before that block exists, so balances are read only after the receipts."""
    for tx_hash in tx_hashes:
        assert tx_hash is not None
        evm.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)  # type: ignore[arg-type]


def _fund_hot_wallet(evm: EvmEnv) -> None:
    address, _ = _hot()
    token = evm.token(evm.usdt6)
    if token.functions.balanceOf(address).call() < 10**12:
        evm.w3.eth.wait_for_transaction_receipt(
            token.functions.mint(address, 10**15).transact({"from": evm.w3.eth.accounts[0]})
        )


def test_evm_send_twice_with_one_id_is_one_transaction(evm: EvmEnv, fresh_index: int) -> None:
    """Sending the same withdrawal twice, and again from a fresh sender after a restart, broadcasts one transaction."""
    _fund_hot_wallet(evm)
    store = InMemoryWithdrawalStore()
    to = derive_address(evm.xpub, fresh_index)
    hot, _ = _hot()
    nonce_before = evm.w3.eth.get_transaction_count(hot)
    request = _usdt(evm, f"wd_{fresh_index}", to, "25.5")
    first = _sender(evm, store).send(request)
    second = _sender(evm, store).send(request)
    restarted = _sender(evm, store).send(request)
    assert first.tx_hash == second.tx_hash == restarted.tx_hash
    _mined(evm, first.tx_hash)
    assert evm.w3.eth.get_transaction_count(hot) == nonce_before + 1
    assert erc20_balance(evm.w3, evm.usdt6, to) == 25_500_000
    mined = _sender(evm, store).status(request.withdrawal_id)
    assert mined.state is TxState.PENDING and mined.confirmations == 1 and mined.fee is not None
    evm.mine(1)
    assert _sender(evm, store).status(request.withdrawal_id).state is TxState.CONFIRMED


def test_evm_send_after_a_crash_before_broadcast_sends_the_stored_transaction(evm: EvmEnv, fresh_index: int) -> None:
    """A sender that died after signing but before broadcasting is resumed by a new sender with the same bytes."""
    _fund_hot_wallet(evm)

    class CrashAfterSigning(InMemoryWithdrawalStore):
        def attach_signed(self, withdrawal_id: str, **kwargs: object) -> WithdrawalRecord:
            super().attach_signed(withdrawal_id, **kwargs)  # type: ignore[arg-type]
            raise SystemExit("process killed")

    store = CrashAfterSigning()
    request = _usdt(evm, f"wd_crash_{fresh_index}", derive_address(evm.xpub, fresh_index), "3")
    with pytest.raises(SystemExit):
        _sender(evm, store).send(request)
    stored = store.get(request.withdrawal_id)
    assert stored is not None and stored.raw_tx is not None
    assert evm.w3.eth.get_transaction_count(_hot()[0], "pending") == stored.nonce  # nothing was broadcast

    survivor = InMemoryWithdrawalStore()
    survivor._records, survivor._next_nonce = store._records, store._next_nonce  # the same durable rows
    sent = _sender(evm, survivor).send(request)
    _mined(evm, sent.tx_hash)
    assert sent.tx_hash == stored.tx_hash
    assert _sender(evm, survivor).status(request.withdrawal_id).block_number is not None


def test_evm_send_reusing_an_id_for_another_request_is_a_conflict(evm: EvmEnv, fresh_index: int) -> None:
    """The same withdrawal id with a different amount is refused and sends nothing."""
    _fund_hot_wallet(evm)
    store = InMemoryWithdrawalStore()
    to = derive_address(evm.xpub, fresh_index)
    _mined(evm, _sender(evm, store).send(_usdt(evm, f"wd_c{fresh_index}", to, "1")).tx_hash)
    with pytest.raises(IdempotencyConflict):
        _sender(evm, store).send(_usdt(evm, f"wd_c{fresh_index}", to, "2"))
    assert erc20_balance(evm.w3, evm.usdt6, to) == 1_000_000


def test_evm_concurrent_sends_get_distinct_consecutive_nonces(evm: EvmEnv, fresh_index: int) -> None:
    """Eight withdrawals sent at once by separate sender objects use eight consecutive nonces and all land."""
    _fund_hot_wallet(evm)
    store = InMemoryWithdrawalStore()
    hot, _ = _hot()
    start = evm.w3.eth.get_transaction_count(hot, "pending")
    to = derive_address(evm.xpub, fresh_index)
    requests = [_usdt(evm, f"wd_p{fresh_index}_{i}", to, "1") for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        sent = list(pool.map(lambda r: _sender(evm, store).send(r), requests))
    nonces = sorted(store.get(r.withdrawal_id).nonce for r in requests)  # type: ignore[union-attr]
    assert nonces == list(range(start, start + 8))
    assert len({s.tx_hash for s in sent}) == 8
    _mined(evm, *(s.tx_hash for s in sent))
    assert erc20_balance(evm.w3, evm.usdt6, to) == 8_000_000
    assert evm.w3.eth.get_transaction_count(hot) == start + 8


def test_evm_native_withdrawal_and_fee_estimate(evm: EvmEnv, fresh_index: int) -> None:
    """A native withdrawal moves ETH; EIP-1559 fees cap at twice the base fee plus the tip."""
    store = InMemoryWithdrawalStore()
    sender = _sender(evm, store)
    to = derive_address(evm.xpub, fresh_index)
    fees = sender.fees()
    assert fees.max_fee == 2 * fees.base_fee + fees.max_priority_fee
    sent = sender.send(WithdrawalRequest(f"wd_eth{fresh_index}", "ethereum", to, Money.of("0.25", "ETH")))
    _mined(evm, sent.tx_hash)
    assert evm.w3.eth.get_balance(Web3.to_checksum_address(to)) == 25 * 10**16
    fee = sender.status(f"wd_eth{fresh_index}").fee
    assert fee is not None and fee.asset.code == "ETH" and fee.is_positive()


def test_evm_send_beyond_the_balance_is_refused_before_a_nonce_is_used(evm: EvmEnv, fresh_index: int) -> None:
    """A withdrawal the hot wallet cannot cover raises InsufficientFunds and records nothing."""
    store = InMemoryWithdrawalStore()
    request = _usdt(evm, f"wd_big{fresh_index}", derive_address(evm.xpub, fresh_index), "1000000000000")
    with pytest.raises(InsufficientFunds):
        _sender(evm, store).send(request)
    assert store.get(request.withdrawal_id) is None


def test_evm_sweep_tops_up_gas_then_moves_all_tokens(evm: EvmEnv, fresh_index: int) -> None:
    """A deposit address with tokens and no ETH gets gas from the hot wallet and its tokens move to the hot wallet."""
    store = InMemoryWithdrawalStore()
    sender = _sender(evm, store)
    deposit = derive_address(evm.xpub, fresh_index)
    evm.pay(evm.usdt18, deposit, 7 * 10**18 + 1)  # 1 wei of dust below the accounting quantum moves too
    assert evm.w3.eth.get_balance(deposit) == 0
    hot_before = erc20_balance(evm.w3, evm.usdt18, sender.hot_wallet)
    rail = evm.rails()[1]
    sweeper = EvmSweeper(sender, rail, deposit_keys=evm.deposit_keys, store=store)
    result = sweeper.sweep(deposit, sweep_id=f"sw_{fresh_index}")
    assert result.state is SweepState.SENT and result.gas_topup is not None
    assert result.amount == Money.of("7", "USDT")
    assert result.sweep is not None
    _mined(evm, result.sweep.tx_hash)
    assert erc20_balance(evm.w3, evm.usdt18, deposit) == 0
    assert erc20_balance(evm.w3, evm.usdt18, sender.hot_wallet) == hot_before + 7 * 10**18 + 1
    again = sweeper.sweep(deposit, sweep_id=f"sw_{fresh_index}")
    assert again.sweep is not None and result.sweep is not None and again.sweep.tx_hash == result.sweep.tx_hash
    assert sweeper.sweep(deposit, sweep_id=f"sw_{fresh_index}_next").state is SweepState.EMPTY


def test_a_transaction_mined_between_reading_its_receipt_and_the_nonce_is_not_dropped(
    evm: EvmEnv, fresh_index: int
) -> None:
    """No receipt yet, then the block comes before the nonce is read: the nonce has moved on because of our own
    transaction, so it is mined, not dropped (found once by the full suite on a loaded machine)."""
    _fund_hot_wallet(evm)
    request = _usdt(evm, f"wd_{fresh_index}", derive_address(evm.xpub, fresh_index), "1")
    sender = _sender(evm, InMemoryWithdrawalStore(), confirmations=1)
    transactions = sender.transactions
    unmined_state = transactions._unmined_state

    def block_arrives_first(record: WithdrawalRecord) -> TxState:
        evm.mine(1)  # the interleaving: our transaction is mined after the receipt read, before the nonce read
        return unmined_state(record)

    evm.node.rpc("evm_setAutomine", False)
    try:
        assert sender.send(request).state is TxState.PENDING  # in the pool, unmined
        transactions._unmined_state = block_arrives_first  # type: ignore[method-assign]
        assert sender.status(request.withdrawal_id).state is TxState.CONFIRMED
    finally:
        evm.node.rpc("evm_setAutomine", True)
