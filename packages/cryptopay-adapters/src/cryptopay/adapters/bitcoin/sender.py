"""The ``ChainSender`` for Bitcoin: P2WPKH withdrawals from the hot wallet, signed with bitcoinlib, sent once.

The fee rate (sat/vB) comes from Esplora's ``/fee-estimates`` for ``target_blocks``; coins are chosen largest
first; change above the dust limit returns to the hot address. The signed transaction is stored before it
is broadcast and a retry rebroadcasts the same bytes, so a withdrawal can never become two transactions
(a second signing would spend the same coins and conflict anyway). Transactions signal RBF.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from bitcoinlib.keys import Key
from bitcoinlib.transactions import Transaction
from cryptopay.adapters.bitcoin.addresses import validate_address
from cryptopay.adapters.bitcoin.esplora import EsploraClient
from cryptopay.core.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, NotFound, Refused
from cryptopay.core.money import BTC, Money
from cryptopay.core.ports.chains import (
    KeyProvider,
    SentTransaction,
    TxState,
    WithdrawalRecord,
    WithdrawalRequest,
    WithdrawalStore,
)

__all__ = ["BitcoinSender", "estimate_vsize"]

DUST_LIMIT = 294  # sats: the smallest P2WPKH output relayed at the default dust relay fee


def estimate_vsize(inputs: int, outputs: int) -> Decimal:
    """Virtual size of a P2WPKH-only transaction (10.5 vB overhead, 68 per input, 31 per output).

    >>> estimate_vsize(1, 2)
    Decimal('140.5')
    """
    return Decimal("10.5") + 68 * inputs + 31 * outputs


class BitcoinSender:
    """Sends BTC from ``hot_address`` (whose key the ``KeyProvider`` holds)."""

    network = "bitcoin"

    def __init__(
        self,
        esplora: EsploraClient,
        *,
        hot_address: str,
        keys: KeyProvider,
        store: WithdrawalStore,
        target_blocks: int = 6,
        max_fee_rate: Decimal = Decimal("500"),
        testnet: bool = False,
        confirmations: int = 3,
    ) -> None:
        self._api = esplora
        self._testnet = testnet
        self._hot = validate_address(hot_address, testnet=testnet)
        self._keys = keys
        self._store = store
        self._target = target_blocks
        self._max_rate = max_fee_rate
        self._depth = confirmations

    def fee_rate(self) -> Decimal:
        """sat/vB for the configured confirmation target (the nearest target at or below it)."""
        estimates = self._api.fee_estimates()
        usable = sorted(t for t in estimates if t <= self._target) or sorted(estimates)
        if not usable:
            raise Refused("no fee estimates available; not sending blind")
        rate = estimates[usable[-1]]
        if rate > self._max_rate:
            raise Refused(f"fee rate {rate} sat/vB is above the configured cap {self._max_rate}")
        return max(rate, Decimal(1))

    def estimate_fee(self, request: WithdrawalRequest) -> Money:
        """The fee of a one-input, two-output withdrawal at the current rate for the confirmation target, in BTC."""
        validate_address(request.to_address, testnet=self._testnet)
        sats = math.ceil(self.fee_rate() * estimate_vsize(1, 2))
        return Money.of(Decimal(sats) / 100_000_000, BTC)

    def send(self, request: WithdrawalRequest) -> SentTransaction:
        """Broadcast the withdrawal (or return the transaction already sent for this id)."""
        if request.network != self.network or request.amount.asset != BTC:
            raise InvalidInput("a Bitcoin sender sends BTC on bitcoin only")
        to = validate_address(request.to_address, testnet=self._testnet)
        sats = request.amount.minor_units
        if sats < DUST_LIMIT:
            raise InvalidInput(f"{sats} sats is below the dust limit of {DUST_LIMIT}")
        digest = f"{to}|{sats}"
        record = self._store.get(request.withdrawal_id)
        if record is not None and record.request_hash != digest:
            raise IdempotencyConflict(f"withdrawal {request.withdrawal_id} was already used for a different send")
        record = record or self._store.claim(
            request.withdrawal_id, network=self.network, from_address=self._hot, request_hash=digest, chain_nonce=0
        )
        if record.raw_tx is None:
            record = self._sign_and_store(record, to, sats)
        return self._broadcast(record)

    def _sign_and_store(self, record: WithdrawalRecord, to: str, sats: int) -> WithdrawalRecord:
        rate = self.fee_rate()
        coins = sorted(
            (u for u in self._api.utxos(self._hot) if u["status"].get("confirmed")), key=lambda u: -int(u["value"])
        )
        chosen: list[dict[str, Any]] = []
        for coin in coins:
            chosen.append(coin)
            if sum(int(c["value"]) for c in chosen) >= sats + math.ceil(estimate_vsize(len(chosen), 2) * rate):
                break
        total = sum(int(c["value"]) for c in chosen)
        fee = math.ceil(estimate_vsize(len(chosen), 2) * rate)
        if total < sats + fee:
            raise InsufficientFunds(f"the hot wallet holds {total} sats; {sats} plus a {fee} sat fee is needed")
        change = total - sats - fee
        paid_fee = fee if change >= DUST_LIMIT else total - sats  # dust change goes to the miner
        raw, txid = self._signed(chosen, to, sats, change)
        fee_paid = Money.from_minor(paid_fee, BTC)
        return self._store.attach_signed(record.withdrawal_id, tx_hash=txid, raw_tx=raw, fee_cap=fee_paid)

    def _signed(self, coins: list[dict[str, Any]], to: str, sats: int, change: int) -> tuple[str, str]:
        network = "testnet" if self._testnet else "bitcoin"
        key = Key(self._keys.private_key_for(self._hot).reveal(), network=network, compressed=True)
        tx = Transaction(network=network, witness_type="segwit", replace_by_fee=True)
        for coin in coins:
            tx.add_input(
                coin["txid"],
                int(coin["vout"]),
                keys=key.public_hex,
                value=int(coin["value"]),
                witness_type="segwit",
                script_type="sig_pubkey",
            )
        tx.add_output(sats, to)
        if change >= DUST_LIMIT:
            tx.add_output(change, self._hot)
        tx.sign(keys=[key])
        if not tx.verify():
            raise Refused("the signed transaction did not verify; nothing was sent")
        raw = tx.raw_hex()
        # bitcoinlib's ``txid`` attribute can be stale after signing: take it from the serialized bytes.
        return raw, str(Transaction.parse_hex(raw, network=network).txid)

    def _broadcast(self, record: WithdrawalRecord) -> SentTransaction:
        current = self.status(record.withdrawal_id)
        if current.state is TxState.PENDING and current.block_number is None:
            self._api.broadcast(str(record.raw_tx))
        return current

    def status(self, withdrawal_id: str) -> SentTransaction:
        """PENDING until ``confirmations`` deep, CONFIRMED after, DROPPED if its coins were spent by another tx."""
        record = self._store.get(withdrawal_id)
        if record is None:
            raise NotFound(f"no Bitcoin withdrawal {withdrawal_id}")
        if record.tx_hash is None:
            return SentTransaction(withdrawal_id, "", TxState.PENDING)
        fee = record.fee_cap
        status = self._api.tx_status(record.tx_hash)
        if status and status.get("confirmed"):
            depth = self._api.tip_height() - int(status["block_height"]) + 1
            state = TxState.CONFIRMED if depth >= self._depth else TxState.PENDING
            return SentTransaction(withdrawal_id, record.tx_hash, state, fee, int(status["block_height"]), depth)
        if status is None and self._inputs_spent_elsewhere(record):
            return SentTransaction(withdrawal_id, record.tx_hash, TxState.DROPPED, fee)
        return SentTransaction(withdrawal_id, record.tx_hash, TxState.PENDING, fee)

    def _inputs_spent_elsewhere(self, record: WithdrawalRecord) -> bool:
        parsed = Transaction.parse_hex(str(record.raw_tx), network="testnet" if self._testnet else "bitcoin")
        for inp in parsed.inputs:
            spend = self._api.outspend(inp.prev_txid.hex(), inp.output_n_int)
            if spend.get("spent") and spend.get("txid") != record.tx_hash:
                return True
        return False
