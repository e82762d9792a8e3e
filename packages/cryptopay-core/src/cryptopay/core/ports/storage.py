"""Storage ports: the unit of work and the repositories a use case writes through, all in one transaction.

A use case opens a unit of work, changes its entities through the repositories, posts its ledger entry with
``Ledger.post(..., session=uow.ledger)``, appends its audit record and its outbox message, and the unit of
work commits all of it at once when the block exits normally (or rolls all of it back on an exception)::

    with uow_factory() as uow:
        uow.invoices.add(invoice)
        ledger.post(request, session=uow.ledger)
        uow.audit.append(AuditEvent("merchant:m1", "invoice.create", f"invoice:{invoice.id}", now))
        uow.outbox.add(OutboxMessage.new(ids.new_id("out"), "invoice.created", {...}, at=now))

``in_transaction`` runs such a block with bounded retries on ``TransientConflict``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from cryptopay.core.audit import AuditEvent, AuditQuery, AuditRecord
from cryptopay.core.errors import TransientConflict
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.ledger import LedgerSession

__all__ = [
    "AuditLog",
    "Outbox",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "about_all",
    "in_transaction",
    "page_past",
    "retrying",
]

K = TypeVar("K")
S = TypeVar("S")
T = TypeVar("T")


class AuditLog(Protocol):
    """The append-only, hash-chained audit log; appends serialise on the chain's head."""

    def append(self, event: AuditEvent) -> AuditRecord: ...

    def records(self, *, after_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        """Records in ``seq`` order, starting after ``after_seq``."""
        ...

    def head(self) -> tuple[int, str] | None:
        """The (seq, hash) of the last record as the head pointer names it; None for an empty log."""
        ...

    def about(
        self, subjects: Sequence[str], *, actor: str | None = None, after_seq: int = 0, limit: int = 10_000
    ) -> list[AuditRecord]:
        """At most ``limit`` records whose subject is one of ``subjects`` or whose actor is ``actor``, in ``seq``
        order, starting after ``after_seq`` (a keyset page: pass the last ``seq`` of the previous page; a data
        subject's export reads them all with ``about_all``)."""
        ...

    def search(self, query: AuditQuery, *, before_seq: int | None = None, limit: int = 50) -> list[AuditRecord]:
        """At most ``limit`` records matching every criterion of ``query``, newest first (``seq`` descending),
        those before ``before_seq`` when given (a keyset page: pass the last ``seq`` of the previous page)."""
        ...


class Outbox(Protocol):
    """Messages to publish after commit; written in the same transaction as the change they announce."""

    def add(self, message: OutboxMessage) -> None: ...

    def get(self, message_id: str) -> OutboxMessage | None: ...

    def due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Unpublished messages available at ``now``, oldest first, locked (skipping ones other relays hold)."""
        ...

    def save(self, message: OutboxMessage) -> None:
        """Store a message's new delivery state (published or failed)."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository; commits when the ``with`` block exits normally."""

    @property
    def ledger(self) -> LedgerSession: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def outbox(self) -> Outbox: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> AbstractContextManager[UnitOfWork]: ...


def retrying(
    call: Callable[[], T],
    *,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
    on: tuple[type[Exception], ...] = (TransientConflict,),
) -> T:
    """Call ``call`` again, with backoff, while it raises ``TransientConflict`` (at most ``max_attempts`` calls).

    ``on``: the errors that mean "another writer won, read again and decide again" for this call, e.g. a row's
    ``…Changed`` conflict (``MerchantChanged``: a write over a version that is no longer the stored one)."""
    for attempt in range(max_attempts):
        try:
            return call()
        except on:
            if attempt == max_attempts - 1:
                raise
            sleep(min(0.002 * 2**attempt, 0.2))
    raise AssertionError("unreachable")  # pragma: no cover


def in_transaction(
    factory: Callable[[], AbstractContextManager[S]],
    work: Callable[[S], T],
    *,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``work`` in a fresh unit of work (or ledger session), retried with backoff when a concurrent writer won."""

    def attempt() -> T:
        with factory() as uow:
            return work(uow)

    return retrying(attempt, max_attempts=max_attempts, sleep=sleep)


def page_past(
    read: Callable[[K | None], list[T]],
    admit: Callable[[list[T]], list[T]],
    key: Callable[[T], K],
    *,
    limit: int,
    start: K | None = None,
) -> list[T]:
    """Up to ``limit`` items of a worker's queue (or a listing) that ``admit`` lets through, in its order:
    ``read(after)`` gives the page of ``limit`` items after the one whose ``key`` is ``after`` (the first page for
    None; ``start``: a caller's cursor), and pages are read until enough are admitted or the queue ends, so the
    items held back (a frozen party's payouts, refunds, withdrawals; a send held for its recipient) never crowd the
    others out of a run or leave a page short, however many they are.

    >>> queue = ["held1", "held2", "held3", "ok1", "ok2"]
    >>> page_past(lambda after: [q for q in queue if after is None or q > after][:2],
    ...           lambda page: [q for q in page if q.startswith("ok")], lambda q: q, limit=2)
    ['ok1', 'ok2']
    """
    found: list[T] = []
    after = start
    while len(found) < limit:
        page = read(after)
        found += admit(page)
        if len(page) < limit:
            break
        after = key(page[-1])
    return found[:limit]


def about_all(
    log: AuditLog, subjects: Sequence[str], *, actor: str | None = None, page: int = 5000
) -> list[AuditRecord]:
    """Every record ``log.about`` matches, in ``seq`` order, read ``page`` at a time (keyset on ``seq``): a data
    subject's export holds all of them, however many.

    >>> from datetime import UTC
    >>> from cryptopay.core.audit import AuditEvent
    >>> from cryptopay.core.testing.storage import InMemoryAuditLog
    >>> log = InMemoryAuditLog()
    >>> at = datetime(2026, 12, 6, tzinfo=UTC)
    >>> for n in range(5):
    ...     _ = log.append(AuditEvent(f"user:u{n % 2}", "user.seen", f"user:u{n % 2}", at))
    >>> [r.seq for r in about_all(log, ["user:u0"], page=2)]
    [1, 3, 5]
    """
    found: list[AuditRecord] = []
    after = 0
    while True:
        batch = log.about(subjects, actor=actor, after_seq=after, limit=page)
        found += batch
        if len(batch) < page:
            return found
        after = batch[-1].seq
