"""In-memory chain stores and key providers: the same contracts as the SQL stores, for tests and embedding.

>>> store = InMemoryWithdrawalStore()
>>> first = store.claim("wd_1", network="ethereum", from_address="0xAb", request_hash="h", chain_nonce=7)
>>> second = store.claim("wd_2", network="ethereum", from_address="0xab", request_hash="h2", chain_nonce=7)
>>> (first.nonce, second.nonce, store.claim("wd_1", network="ethereum", from_address="0xab",
...     request_hash="h", chain_nonce=9).nonce)
(7, 8, 7)
"""

from __future__ import annotations

import threading

import attrs
from cryptopay.core.errors import NotFound
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import PrivateKey, ScanCursor, WithdrawalRecord

__all__ = ["InMemoryScanCursorStore", "InMemoryWithdrawalStore", "StaticKeys"]


class InMemoryWithdrawalStore:
    """``WithdrawalStore`` in a dict, safe to share between threads (and between sender objects)."""

    def __init__(self) -> None:
        self._records: dict[str, WithdrawalRecord] = {}
        self._next_nonce: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def get(self, withdrawal_id: str) -> WithdrawalRecord | None:
        with self._lock:
            return self._records.get(withdrawal_id)

    def claim(
        self, withdrawal_id: str, *, network: str, from_address: str, request_hash: str, chain_nonce: int
    ) -> WithdrawalRecord:
        with self._lock:
            existing = self._records.get(withdrawal_id)
            if existing is not None:
                return existing
            slot = (network, from_address.lower())
            nonce = max(chain_nonce, self._next_nonce.get(slot, 0))
            self._next_nonce[slot] = nonce + 1
            record = WithdrawalRecord(withdrawal_id, network, from_address, request_hash, nonce)
            self._records[withdrawal_id] = record
            return record

    def attach_signed(
        self, withdrawal_id: str, *, tx_hash: str, raw_tx: str, fee_cap: Money | None
    ) -> WithdrawalRecord:
        with self._lock:
            record = self._records.get(withdrawal_id)
            if record is None:
                raise NotFound(f"withdrawal {withdrawal_id} was never claimed")
            if record.raw_tx is None:
                record = attrs.evolve(record, tx_hash=tx_hash, raw_tx=raw_tx, fee_cap=fee_cap)
                self._records[withdrawal_id] = record
            return record


class InMemoryScanCursorStore:
    """``ScanCursorStore`` in a dict."""

    def __init__(self) -> None:
        self._cursors: dict[str, ScanCursor] = {}

    def load(self, network: str) -> ScanCursor | None:
        return self._cursors.get(network)

    def save(self, cursor: ScanCursor) -> None:
        self._cursors[cursor.network] = cursor


class StaticKeys:
    """``KeyProvider`` over a fixed address -> key map (addresses compared case-insensitively)."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._keys = {address.lower(): PrivateKey(secret) for address, secret in keys.items()}

    def private_key_for(self, address: str) -> PrivateKey:
        try:
            return self._keys[address.lower()]
        except KeyError:
            raise NotFound(f"no signing key is held for {address}") from None

    def __repr__(self) -> str:
        return f"StaticKeys({len(self._keys)} addresses)"
