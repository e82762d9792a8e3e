"""In-memory unit of work: the ledger, the audit log, the outbox and any other in-memory repositories, all or nothing.

One unit of work at a time (a lock), so it behaves like a serialisable database. Extra repositories (the
in-memory fakes of the other areas) are passed by name and offered as attributes; if a unit of work fails, they are
put back as it found them. Each is copied (deep) only when the unit of work first touches it (``_Snapshot``), not
all of them at every start: deep-copying every repository at each unit of work was a third of some suites' time.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
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


class _Snapshot:
    """The repositories as a unit of work found them, for its rollback: each deep-copied when first touched.

    A change reaches a repository's objects only through a repository the unit of work touched, so each copy is made
    before any change to what it copies. All the copies share one memo: an object reached from two repositories (a
    repository holding another, ``InMemoryDepositAddresses(invoices)``) is copied once, when first reached, and stays
    shared. ``restored`` (a failed unit of work: rare) copies the untouched ones too, through the same memo, so what
    they share with a touched one comes back as it was: the mapping a deep copy at the start would have given.

    >>> shared = {"n": 1}
    >>> live = {"a": [shared], "b": {"shared": shared}, "c": [0]}
    >>> snapshot = _Snapshot(live)
    >>> snapshot.touch("a")
    >>> live["a"][0]["n"] = 2  # through "a", also changes what "b" holds
    >>> restored = snapshot.restored()
    >>> restored, restored["a"][0] is restored["b"]["shared"], restored["c"] is live["c"]
    ({'a': [{'n': 1}], 'b': {'shared': {'n': 1}}, 'c': [0]}, True, False)
    """

    def __init__(self, live: dict[str, Any]) -> None:
        self.thread = threading.get_ident()  # the unit of work's, which holds the storage's lock
        self._live = live
        self._memo: dict[int, Any] = {}
        self._copies: dict[str, Any] = {}

    def touch(self, name: str) -> None:
        if name not in self._copies and name in self._live:
            self._copies[name] = copy.deepcopy(self._live[name], self._memo)

    def touch_all(self) -> None:
        for name in list(self._live):
            self.touch(name)

    def restored(self) -> dict[str, Any]:
        self.touch_all()  # the untouched ones are as they were, but for what they share with a touched one: the memo's
        return {name: self._copies[name] for name in self._live}


class InMemoryUnitOfWork:
    """The repositories of one in-memory transaction."""

    def __init__(
        self,
        ledger: LedgerSession,
        audit: InMemoryAuditLog,
        outbox: InMemoryOutbox,
        extra: dict[str, Any],
        touch: Callable[[str], None] = lambda name: None,
    ):
        self.ledger = ledger
        self.audit = audit
        self.outbox = outbox
        self._extra = extra
        self._touch = touch

    def __getattr__(self, name: str) -> Any:
        extra, touch = self.__dict__["_extra"], self.__dict__["_touch"]
        try:
            repository = extra[name]
        except KeyError:
            if name == "wallet_sends" and {"wallets", "kyc", "wallet_usage", "wallet_transfers"} <= extra.keys():
                # A P2P send's reads and writes over the wallet repositories this storage holds.
                from cryptopay.core.testing.wallets import InMemorySends

                names = ("wallets", "kyc", "wallet_usage", "wallet_transfers", "movements")
                for each in names:
                    touch(each)
                wallets, kyc, usage, transfers = (extra[n] for n in names[:4])
                return InMemorySends(wallets, kyc, usage, transfers, journal=extra.get("movements"))
            raise AttributeError(name) from None
        touch(name)
        return repository


class InMemoryStorage:
    """Holds the committed state; ``unit_of_work()`` is the ``UnitOfWorkFactory``."""

    def __init__(self, ledger_store: InMemoryLedgerStore | None = None, **repositories: Any) -> None:
        self.ledger_store = ledger_store or InMemoryLedgerStore()
        self._audit: list[AuditRecord] = []
        self._outbox: dict[str, OutboxMessage] = {}
        self._repositories: dict[str, Any] = dict(repositories)
        self._lock = threading.RLock()
        self._snapshots: list[_Snapshot] = []  # of the units of work under way (one, unless nested)

    @property
    def repositories(self) -> Mapping[str, Any]:
        for snapshot in self._snapshots:  # taken inside a unit of work, it may be changed: all are copied first
            if snapshot.thread == threading.get_ident():
                snapshot.touch_all()
        return self._repositories

    def _touch(self, name: str) -> None:
        for snapshot in self._snapshots:
            snapshot.touch(name)

    @contextmanager
    def unit_of_work(self) -> Iterator[InMemoryUnitOfWork]:
        with self._lock, self.ledger_store.session() as ledger:
            audit, outbox = InMemoryAuditLog(self._audit), InMemoryOutbox(self._outbox)
            snapshot = _Snapshot(self._repositories)
            self._snapshots.append(snapshot)
            try:
                yield InMemoryUnitOfWork(ledger, audit, outbox, self._repositories, self._touch)
                fencing.check(None)  # a lost idempotency claim rolls the work back, as on SQL
            except BaseException:
                self._repositories = snapshot.restored()
                raise
            finally:
                self._snapshots.remove(snapshot)
            self._audit, self._outbox = audit.records(), dict(outbox._messages)

    __call__ = unit_of_work

    def audit_records(self) -> list[AuditRecord]:
        return list(self._audit)

    def outbox_messages(self) -> list[OutboxMessage]:
        return sorted(self._outbox.values(), key=lambda m: (m.created_at, m.id))
