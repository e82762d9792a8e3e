"""An in-memory ``LedgerSeals`` over an ``InMemoryStorage``: positions are the entries' insertion numbers.

One unit of work at a time, so every committed entry is sealable and a claim is never refused. The head is what the
storage's ``ledger.sealed`` records add up to (any number of these objects over one storage agree).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptopay.core.ledger.seal import SEAL_ACTION, SealBatch, SealedEntry, SealPosition
from cryptopay.core.ports.ledger_seals import SealHead
from cryptopay.core.ports.storage import AuditLog
from cryptopay.core.testing.storage import InMemoryStorage

__all__ = ["InMemoryLedgerSeals"]


class _Session:
    def __init__(self, uow: Any) -> None:
        self._uow = uow
        self.stored = SealHead()
        for record in uow.audit.records():
            if record.action == SEAL_ACTION:
                batch = SealBatch.from_event(record.event)
                self.stored = SealHead(batch.last, self.stored.batches + 1, self.stored.sealed + batch.count)
        entries = uow.ledger.state.entries  # the session's own copy of the ledger (testing.ledger._State)
        self._entries = [SealedEntry.of(e, SealPosition(n, e.id)) for n, e in enumerate(entries.values(), 1)]

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
        with self._storage.unit_of_work() as uow:
            yield _Session(uow)

    reading = session
