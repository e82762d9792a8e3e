"""In-memory unit of work: the ledger, the audit log, the outbox and any other in-memory repositories, all or nothing.

One unit of work at a time (a lock), so it behaves like a serialisable database. Extra repositories (the
in-memory fakes of the other areas) are passed by name and offered as attributes; they are snapshotted when a
unit of work starts and restored if it fails.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.audit import AuditEvent
>>> storage = InMemoryStorage()
>>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> with storage.unit_of_work() as uow:
...     _ = uow.audit.append(AuditEvent("admin:a1", "kyc.approve", "user:u1", at))
>>> try:
...     with storage.unit_of_work() as uow:
...         _ = uow.audit.append(AuditEvent("admin:a1", "kyc.reject", "user:u2", at))
...         raise RuntimeError("the use case failed")
... except RuntimeError:
...     pass
>>> [r.action for r in storage.audit_records()]
['kyc.approve']
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from cryptopay.core import fencing
from cryptopay.core.audit import AuditEvent, AuditQuery, AuditRecord, chain_next
from cryptopay.core.errors import Conflict
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.ledger import LedgerSession
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.ledger import InMemoryLedgerStore

__all__ = ["InMemoryAuditLog", "InMemoryOutbox", "InMemoryStorage", "InMemoryUnitOfWork"]


class InMemoryAuditLog:
    """A hash-chained list of audit records."""

    def __init__(self, records: list[AuditRecord] | None = None) -> None:
        self._records = list(records or [])
        self._ids = RandomIds()

    def append(self, event: AuditEvent) -> AuditRecord:
        record = chain_next(self._records[-1] if self._records else None, event, self._ids.new_id("aud"))
        self._records.append(record)
        return record

    def records(self, *, after_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        found = [r for r in self._records if r.seq > after_seq]
        return found[:limit] if limit is not None else found

    def head(self) -> tuple[int, str] | None:
        return (self._records[-1].seq, self._records[-1].hash) if self._records else None

    def about(
        self, subjects: Sequence[str], *, actor: str | None = None, after_seq: int = 0, limit: int = 10_000
    ) -> list[AuditRecord]:
        wanted = set(subjects)
        found = [
            r
            for r in self.records(after_seq=after_seq)
            if r.subject in wanted or (actor is not None and r.actor == actor)
        ]
        return found[:limit]

    def search(self, query: AuditQuery, *, before_seq: int | None = None, limit: int = 50) -> list[AuditRecord]:
        found = [r for r in reversed(self._records) if (before_seq is None or r.seq < before_seq) and query.matches(r)]
        return found[:limit]


class InMemoryOutbox:
    """Outbox messages by id."""

    def __init__(self, messages: dict[str, OutboxMessage] | None = None) -> None:
        self._messages = dict(messages or {})

    def add(self, message: OutboxMessage) -> None:
        if message.id in self._messages:
            raise Conflict(f"outbox message {message.id} exists")
        self._messages[message.id] = message

    def get(self, message_id: str) -> OutboxMessage | None:
        return self._messages.get(message_id)

    def due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        due = [m for m in self._messages.values() if m.is_due(now)]
        return sorted(due, key=lambda m: (m.available_at, m.id))[:limit]

    def save(self, message: OutboxMessage) -> None:
        self._messages[message.id] = message


class InMemoryUnitOfWork:
    """The repositories of one in-memory transaction."""

    def __init__(self, ledger: LedgerSession, audit: InMemoryAuditLog, outbox: InMemoryOutbox, extra: dict[str, Any]):
        self.ledger = ledger
        self.audit = audit
        self.outbox = outbox
        self._extra = extra

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__["_extra"]
        try:
            return extra[name]
        except KeyError:
            if name == "wallet_sends" and {"wallets", "kyc", "wallet_usage", "wallet_transfers"} <= extra.keys():
                # A P2P send's reads and writes over the wallet repositories this storage holds.
                from cryptopay.core.testing.wallets import InMemorySends

                wallets, kyc, usage, transfers = (
                    extra[n] for n in ("wallets", "kyc", "wallet_usage", "wallet_transfers")
                )
                return InMemorySends(wallets, kyc, usage, transfers, journal=extra.get("movements"))
            raise AttributeError(name) from None


class InMemoryStorage:
    """Holds the committed state; ``unit_of_work()`` is the ``UnitOfWorkFactory``."""

    def __init__(self, ledger_store: InMemoryLedgerStore | None = None, **repositories: Any) -> None:
        self.ledger_store = ledger_store or InMemoryLedgerStore()
        self._audit: list[AuditRecord] = []
        self._outbox: dict[str, OutboxMessage] = {}
        self._repositories: dict[str, Any] = dict(repositories)
        self._lock = threading.RLock()

    @property
    def repositories(self) -> Mapping[str, Any]:
        return self._repositories

    @contextmanager
    def unit_of_work(self) -> Iterator[InMemoryUnitOfWork]:
        with self._lock, self.ledger_store.session() as ledger:
            audit, outbox = InMemoryAuditLog(self._audit), InMemoryOutbox(self._outbox)
            snapshot = copy.deepcopy(self._repositories)
            try:
                yield InMemoryUnitOfWork(ledger, audit, outbox, self._repositories)
                fencing.check(None)  # a lost idempotency claim rolls the work back, as on SQL
            except BaseException:
                self._repositories = snapshot
                raise
            self._audit, self._outbox = audit.records(), dict(outbox._messages)

    __call__ = unit_of_work

    def audit_records(self) -> list[AuditRecord]:
        return list(self._audit)

    def outbox_messages(self) -> list[OutboxMessage]:
        return sorted(self._outbox.values(), key=lambda m: (m.created_at, m.id))
