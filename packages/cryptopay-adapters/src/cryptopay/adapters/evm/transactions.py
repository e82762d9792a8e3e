"""Restart-safe, idempotent EVM transactions: one nonce per id, signed once, broadcast as the same bytes.

``submit`` claims a nonce for an id in the ``WithdrawalStore`` (atomically, so concurrent senders and restarted
processes never reuse or skip-and-double a nonce), signs with EIP-1559 fees, stores the signed bytes *before*
broadcasting, and on every retry rebroadcasts those same bytes. So a retried withdrawal is never two
transactions. Keys come from a ``KeyProvider`` and are used only inside the signing call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
from cryptopay.adapters.evm.rpc import Backoff, call_with_backoff
from cryptopay.core.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, NotFound
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import (
    KeyProvider,
    PrivateKey,
    SentTransaction,
    TxState,
    WithdrawalRecord,
    WithdrawalStore,
)
from cryptopay.core.rails import Network
from eth_account import Account
from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

__all__ = ["EvmTransactions", "Fees", "UnsignedCall"]

_GAS_MARGIN = (6, 5)  # estimate x 1.2: a transfer to a fresh holder or a busy block can cost a little more


@attrs.frozen
class Fees:
    """EIP-1559 fees in wei: ``max_fee`` = 2 x base fee + tip, so the cap survives several full blocks."""

    base_fee: int
    max_priority_fee: int
    max_fee: int


@attrs.frozen
class UnsignedCall:
    """What a transaction does: recipient, native value in wei and calldata."""

    to: str
    value: int = 0
    data: str = "0x"


@attrs.frozen
class _Prepared:
    """A transaction ready to sign once it has a nonce."""

    call: UnsignedCall
    gas: int
    fees: Fees
    key: PrivateKey = attrs.field(repr=False)


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


class EvmTransactions:
    """Claims nonces, signs, stores and broadcasts transactions for one network, and reports their state."""

    def __init__(
        self,
        w3: Web3,
        network: Network,
        *,
        store: WithdrawalStore,
        keys: KeyProvider,
        confirmations: int,
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if network.chain_id is None or network.native is None:
            raise InvalidInput(f"{network.name} is not an EVM network")
        self.network = network
        self._w3 = w3
        self._store = store
        self._keys = keys
        self._confirmations = confirmations
        self._backoff = backoff
        self._sleep = sleep

    def call(self, what: str, action: Callable[[], Any]) -> Any:
        """Run an RPC action with backoff."""
        return call_with_backoff(action, what=what, network=self.network.name, backoff=self._backoff, sleep=self._sleep)

    def fees(self) -> Fees:
        """Current EIP-1559 fees: the pending base fee and the node's suggested tip."""
        block = self.call("reading the latest block", lambda: self._w3.eth.get_block("latest"))
        base = int(block.get("baseFeePerGas", 0))
        tip = int(self.call("reading the priority fee", lambda: self._w3.eth.max_priority_fee))
        return Fees(base, tip, 2 * base + tip)

    def native_money(self, wei: int) -> Money:
        assert self.network.native is not None
        return self.network.native.to_money(wei)

    def estimate_gas(self, from_address: str, call: UnsignedCall) -> int:
        """Gas for ``call`` from ``from_address``, with a safety margin."""
        params: Any = {"from": from_address, "to": call.to, "value": call.value, "data": call.data}
        gas = int(self.call("estimating gas", lambda: self._w3.eth.estimate_gas(params)))
        return gas * _GAS_MARGIN[0] // _GAS_MARGIN[1]

    def submit(
        self,
        tx_id: str,
        *,
        from_address: str,
        request_hash: str,
        build: Callable[[], UnsignedCall],
        fee_budget: int | None = None,
    ) -> WithdrawalRecord:
        """Claim, sign (once) and broadcast the transaction for ``tx_id``; a retry rebroadcasts the stored bytes.

        Everything that can fail (balance checks in ``build``, gas estimation, fees, the key lookup) runs before
        a nonce is claimed, so a refused request never leaves a gap in the account's nonces. ``fee_budget`` (wei)
        caps value + gas x max fee, for accounts that hold exactly their gas money (sweeps).
        """
        record = self._store.get(tx_id)
        self._same_request(tx_id, record, request_hash)
        if record is None or record.raw_tx is None:
            prepared = self._prepare(from_address, build(), fee_budget)
            if record is None:
                record = self._claim(tx_id, from_address, request_hash)
                self._same_request(tx_id, record, request_hash)
            if record.raw_tx is None:
                record = self._sign(record, prepared)
        self._broadcast(record)
        return record

    def _same_request(self, tx_id: str, record: WithdrawalRecord | None, request_hash: str) -> None:
        if record is not None and record.request_hash != request_hash:
            raise IdempotencyConflict(f"{tx_id} was already used for a different {self.network.name} transaction")

    def _claim(self, tx_id: str, from_address: str, request_hash: str) -> WithdrawalRecord:
        holder = Web3.to_checksum_address(from_address)
        chain_nonce = self.call("reading the nonce", lambda: self._w3.eth.get_transaction_count(holder, "pending"))
        return self._store.claim(
            tx_id,
            network=self.network.name,
            from_address=from_address,
            request_hash=request_hash,
            chain_nonce=int(chain_nonce),
        )

    def _prepare(self, from_address: str, call: UnsignedCall, fee_budget: int | None) -> _Prepared:
        gas = self.estimate_gas(from_address, call)
        fees = self.fees()
        if fee_budget is not None:
            fees = self._within_budget(from_address, fees, (fee_budget - call.value) // gas)
        return _Prepared(call, gas, fees, self._keys.private_key_for(from_address))

    def _sign(self, record: WithdrawalRecord, prepared: _Prepared) -> WithdrawalRecord:
        call, fees = prepared.call, prepared.fees
        tx = {
            "type": 2,
            "chainId": self.network.chain_id,
            "nonce": record.nonce,
            "to": Web3.to_checksum_address(call.to),
            "value": call.value,
            "data": call.data,
            "gas": prepared.gas,
            "maxFeePerGas": fees.max_fee,
            "maxPriorityFeePerGas": fees.max_priority_fee,
        }
        signed = Account.sign_transaction(tx, prepared.key.reveal())
        return self._store.attach_signed(
            record.withdrawal_id,
            tx_hash=_hex(signed.hash).lower(),
            raw_tx=_hex(signed.raw_transaction),
            fee_cap=self.native_money(prepared.gas * fees.max_fee),
        )

    def _within_budget(self, from_address: str, fees: Fees, max_fee: int) -> Fees:
        if max_fee >= fees.max_fee:
            return fees
        if max_fee < fees.base_fee + fees.max_priority_fee:
            raise InsufficientFunds(f"{from_address} holds too little {self.network.name} gas money; top it up")
        return attrs.evolve(fees, max_fee=max_fee)

    def _broadcast(self, record: WithdrawalRecord) -> None:
        raw = str(record.raw_tx)

        def send() -> None:
            try:
                self._w3.eth.send_raw_transaction(HexStr(raw))
            except Web3RPCError as error:
                self._broadcast_refused(record, str(error).lower())

        self.call(f"broadcasting {record.withdrawal_id}", send)

    def _broadcast_refused(self, record: WithdrawalRecord, reason: str) -> None:
        if "already known" in reason or "known transaction" in reason or "already imported" in reason:
            return
        if "nonce too low" in reason or "nonce is too low" in reason:
            return  # mined already, or its nonce went to another transaction: ``state`` tells which
        if "insufficient funds" in reason:
            raise InsufficientFunds(
                f"{record.from_address} cannot pay for {record.withdrawal_id} on {self.network.name}; "
                "fund it and retry with the same id"
            )
        raise InvalidInput(f"the {self.network.name} node refused {record.withdrawal_id}: {reason[:200]}")

    def state(self, tx_id: str) -> SentTransaction:
        """Where the transaction of ``tx_id`` is: pending, confirmed (deep enough), failed or dropped."""
        record = self._store.get(tx_id)
        if record is None or record.tx_hash is None:
            raise NotFound(f"no {self.network.name} transaction was sent for {tx_id}")
        receipt = self._receipt(record.tx_hash)
        if receipt is None:
            unmined = self._unmined_state(record)
            if unmined is TxState.DROPPED:  # the nonce moved on: ours may have been mined between the two reads
                receipt = self._receipt(record.tx_hash)
            if receipt is None:
                return SentTransaction(tx_id, record.tx_hash, unmined)
        fee = self.native_money(int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"]))
        number = int(receipt["blockNumber"])
        if int(receipt["status"]) != 1:
            return SentTransaction(tx_id, record.tx_hash, TxState.FAILED, fee, number)
        depth = max(0, int(self.call("reading the head", lambda: self._w3.eth.block_number)) - number + 1)
        state = TxState.CONFIRMED if depth >= self._confirmations else TxState.PENDING
        return SentTransaction(tx_id, record.tx_hash, state, fee, number, depth)

    def _receipt(self, tx_hash: str) -> Any:
        def fetch() -> Any:
            try:
                return self._w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                return None

        return self.call("reading a receipt", fetch)

    def _unmined_state(self, record: WithdrawalRecord) -> TxState:
        sender = Web3.to_checksum_address(record.from_address)
        mined_nonce = int(self.call("reading the nonce", lambda: self._w3.eth.get_transaction_count(sender, "latest")))
        return TxState.DROPPED if mined_nonce > record.nonce else TxState.PENDING
