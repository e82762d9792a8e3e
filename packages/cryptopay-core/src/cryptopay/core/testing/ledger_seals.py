"""An in-memory ``LedgerSeals`` over an ``InMemoryStorage``: positions are the entries' insertion numbers.

One unit of work at a time, so every committed entry is sealable and a claim is never refused. The head is what the
storage's ``ledger.sealed`` records add up to (any number of these objects over one storage agree).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptopay.core.ledger.seal import (
    SEAL_ACTION,
    SealBatch,
    SealedEntry,
    SealedTransfer,
    SealPosition,
    sealed_transfer_id,
)
from cryptopay.core.ports.ledger_seals import SealHead
from cryptopay.core.ports.storage import AuditLog
from cryptopay.core.testing.storage import InMemoryStorage

__all__ = ["InMemoryLedgerSeals"]


def _transfer(transfers: Any, metadata: tuple[tuple[str, str], ...]) -> SealedTransfer | None:
    """The entry's transfer's fixed fields, from the storage's ``wallet_transfers`` (if it holds transfers)."""
    transfer_id = sealed_transfer_id(metadata)
    t = transfers.get(transfer_id) if transfer_id and transfers is not None else None
    if t is None:
        return None
    return SealedTransfer(t.id, t.sender_id, t.recipient_id, t.amount.amount, t.fee.amount, t.asset.code, t.created_at)


class _Session:
    def __init__(self, uow: Any, transfers: Any) -> None:
        self._uow = uow
        self.stored = SealHead()
        for record in uow.audit.records():
            if record.action == SEAL_ACTION:
                batch = SealBatch.from_event(record.event)
                self.stored = SealHead(batch.last, self.stored.batches + 1, self.stored.sealed + batch.count)
        entries = uow.ledger.state.entries  # the session's own copy of the ledger (testing.ledger._State)
        self._entries = [
            SealedEntry.of(e, SealPosition(n, e.id), _transfer(transfers, e.metadata))
            for n, e in enumerate(entries.values(), 1)
        ]

    @property
    def audit(self) -> AuditLog:
        audit: AuditLog = self._uow.audit
        return audit

    def claim(self) -> SealHead:
        return self.stored

    def head(self) -> SealHead:
        return self.stored

    def move_head(self, head: SealHead) -> None:
        self.stored = head

    def _after(self, after: SealPosition | None) -> list[SealedEntry]:
        return [e for e in self._entries if after is None or e.position > after]

    def sealable(self, after: SealPosition | None, limit: int) -> list[SealedEntry]:
        return self._after(after)[:limit]

    def between(self, after: SealPosition | None, last: SealPosition) -> list[SealedEntry]:
        return [e for e in self._after(after) if e.position <= last]

    def count_after(self, after: SealPosition | None) -> int:
        return len(self._after(after))


class InMemoryLedgerSeals:
    """``LedgerSeals`` over the storage's ledger and audit log."""

    def __init__(self, storage: InMemoryStorage) -> None:
        self._storage = storage

    @contextmanager
    def session(self) -> Iterator[_Session]:
        transfers = self._storage.repositories.get("wallet_transfers")
        with self._storage.unit_of_work() as uow:
            yield _Session(uow, transfers)

    reading = session
