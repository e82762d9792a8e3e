"""Signed, stored, broadcast-once Tron transactions (TRC20 and TRX transfers) built with tronpy.

Idempotency: a withdrawal id is claimed in the ``WithdrawalStore``, the signed transaction is stored before
it is broadcast, and a retry rebroadcasts the same bytes (the network answers ``DUP_TRANSACTION_ERROR`` for a
transaction it already has). A transaction that expired without being mined can never be mined; its status
is DROPPED and nothing is re-signed automatically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from decimal import Decimal
from typing import Any

from cryptopay.adapters.tron.client import TronApi, trc20_balance
from cryptopay.core.errors import IdempotencyConflict, NotFound, Refused
from cryptopay.core.money import TRX, Money
from cryptopay.core.ports.chains import KeyProvider, SentTransaction, TxState, WithdrawalRecord, WithdrawalStore
from tronpy import Tron
from tronpy.contract import Contract
from tronpy.keys import PrivateKey as TronPrivateKey
from tronpy.tron import Transaction

__all__ = ["TRC20_ABI", "TronTransactions", "request_hash", "signed_transaction"]

TRC20_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "transfer",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "_to", "type": "address"}, {"name": "_value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "type": "function",
        "name": "balanceOf",
        "stateMutability": "view",
        "inputs": [{"name": "who", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]
_ENERGY_FEE_DEFAULT = 420  # sun per energy unit, used when the node does not report getEnergyFee


def request_hash(*parts: object) -> str:
    """A digest of what a withdrawal asks for, so a reused id with a different request is refused."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


class TronTransactions:
    """Builds, signs (tronpy), stores and broadcasts transfers; reports their state from solidified blocks."""

    def __init__(
        self,
        api: TronApi,
        *,
        keys: KeyProvider,
        store: WithdrawalStore,
        fee_margin: Decimal = Decimal("1.2"),
        max_fee_limit_sun: int = 100_000_000,
        expiration_ms: int = 10 * 60 * 1000,
    ) -> None:
        self._api = api
        self._keys = keys
        self._store = store
        self._margin = fee_margin
        self._max_fee_limit = max_fee_limit_sun
        self._expiration = expiration_ms

    @property
    def tron(self) -> Tron:
        return self._api.tron

    def energy_price(self) -> int:
        """Sun per energy unit (the chain parameter getEnergyFee)."""
        params = self._api.post("reading chain parameters", "wallet/getchainparameters", {"visible": True})
        for item in params.get("chainParameter", []):
            if item.get("key") == "getEnergyFee":
                return int(item.get("value", _ENERGY_FEE_DEFAULT))
        return _ENERGY_FEE_DEFAULT

    def estimate_fee_limit(self, owner: str, contract: str, to: str, base_units: int) -> int:
        """fee_limit in sun for a TRC20 transfer: estimated energy x energy price x margin; refused above the cap."""
        parameter = "0" * 24 + Tron.to_hex_address(to)[2:] + f"{base_units:064x}"
        body = {
            "owner_address": owner,
            "contract_address": contract,
            "function_selector": "transfer(address,uint256)",
            "parameter": parameter,
            "visible": True,
        }
        answer = self._api.post("estimating energy", "wallet/estimateenergy", body)
        energy = int(answer.get("energy_required", 0))
        if energy <= 0:
            return self._max_fee_limit  # no estimate: the cap still bounds the burn
        fee_limit = math.ceil(Decimal(energy * self.energy_price()) * self._margin)
        if fee_limit > self._max_fee_limit:
            raise Refused(f"estimated fee_limit {fee_limit} sun is above the configured cap {self._max_fee_limit}")
        return fee_limit

    def token_balance(self, contract: str, holder: str) -> int:
        """A TRC20 balance in base units (``balanceOf``)."""
        return trc20_balance(self._api, contract, holder)

    def trx_balance(self, holder: str) -> int:
        account = self._api.post("reading an account", "wallet/getaccount", {"address": holder, "visible": True})
        return int(account.get("balance", 0))

    def send_trc20(self, withdrawal_id: str, *, owner: str, contract: str, to: str, base_units: int) -> SentTransaction:
        """Transfer ``base_units`` of a TRC20 token once per ``withdrawal_id``."""
        digest = request_hash("trc20", owner, contract, to, base_units)
        record = self._claim(withdrawal_id, owner, digest)
        if record.raw_tx is None:
            fee_limit = self.estimate_fee_limit(owner, contract, to, base_units)
            token = Contract(addr=contract, abi=TRC20_ABI, client=self.tron)
            builder = token.functions.transfer.with_owner(owner)(to, base_units).fee_limit(fee_limit)
            record = self._sign_and_store(record, builder, Money.from_minor(fee_limit, TRX))
        return self._broadcast(record)

    def send_trx(self, withdrawal_id: str, *, owner: str, to: str, sun: int) -> SentTransaction:
        """Transfer ``sun`` TRX once per ``withdrawal_id``."""
        record = self._claim(withdrawal_id, owner, request_hash("trx", owner, to, sun))
        if record.raw_tx is None:
            record = self._sign_and_store(record, self.tron.trx.transfer(owner, to, sun), None)
        return self._broadcast(record)

    def _claim(self, withdrawal_id: str, owner: str, digest: str) -> WithdrawalRecord:
        existing = self._store.get(withdrawal_id)
        if existing is not None and existing.request_hash != digest:
            raise IdempotencyConflict(f"withdrawal {withdrawal_id} was already used for a different transfer")
        return existing or self._store.claim(
            withdrawal_id, network="tron", from_address=owner, request_hash=digest, chain_nonce=0
        )

    def _sign_and_store(self, record: WithdrawalRecord, builder: Any, fee_cap: Money | None) -> WithdrawalRecord:
        txn = self._api.call("building a transaction", lambda: builder.expiration(self._expiration).build())
        secret = self._keys.private_key_for(record.from_address)
        txn.sign(TronPrivateKey(secret.reveal()))
        raw = json.dumps(txn.to_json(), sort_keys=True)
        return self._store.attach_signed(record.withdrawal_id, tx_hash=txn.txid, raw_tx=raw, fee_cap=fee_cap)

    def _broadcast(self, record: WithdrawalRecord) -> SentTransaction:
        current = self.status(record.withdrawal_id)
        if current.state is not TxState.PENDING or current.block_number is not None:
            return current
        if _expired(record):
            return SentTransaction(record.withdrawal_id, str(record.tx_hash), TxState.DROPPED)
        answer = self._api.post("broadcasting", "wallet/broadcasttransaction", json.loads(str(record.raw_tx)))
        if answer.get("result") is not True and answer.get("code") != "DUP_TRANSACTION_ERROR":
            raise Refused(f"the node refused withdrawal {record.withdrawal_id}: {_message(answer)}")
        return SentTransaction(record.withdrawal_id, str(record.tx_hash), TxState.PENDING)

    def status(self, withdrawal_id: str) -> SentTransaction:
        """PENDING, CONFIRMED once solidified, FAILED if reverted, or DROPPED if it expired unmined."""
        record = self._store.get(withdrawal_id)
        if record is None:
            raise NotFound(f"no Tron withdrawal {withdrawal_id}")
        if record.tx_hash is None:
            return SentTransaction(withdrawal_id, "", TxState.PENDING)
        txid = record.tx_hash
        info = self._api.post("reading a transaction", "wallet/gettransactioninfobyid", {"value": txid})
        if not info.get("id"):
            state = TxState.DROPPED if _expired(record) else TxState.PENDING
            return SentTransaction(withdrawal_id, txid, state)
        fee = Money.from_minor(int(info.get("fee", 0)), TRX)
        block = int(info["blockNumber"])
        if info.get("result") == "FAILED":
            return SentTransaction(withdrawal_id, txid, TxState.FAILED, fee, block)
        solid = int(
            self._api.post("reading the solid head", "walletsolidity/getnowblock", {})["block_header"]["raw_data"][
                "number"
            ]
        )
        if block <= solid:
            return SentTransaction(withdrawal_id, txid, TxState.CONFIRMED, fee, block, solid - block + 1)
        return SentTransaction(withdrawal_id, txid, TxState.PENDING, fee, block)


def _expired(record: WithdrawalRecord) -> bool:
    raw = json.loads(str(record.raw_tx))
    return int(raw["raw_data"]["expiration"]) <= int(time.time() * 1000)


def _message(answer: dict[str, Any]) -> str:
    code, message = answer.get("code", "error"), str(answer.get("message", ""))
    with contextlib.suppress(ValueError):
        message = bytes.fromhex(message).decode()
    return f"{code} {message}".strip()


def signed_transaction(raw_tx: str) -> Transaction:
    """The stored transaction as a tronpy ``Transaction`` (e.g. to verify its signature)."""
    return Transaction.from_json(json.loads(raw_tx))
