"""Sealing ledger entries into the audit chain, and checking the seals (the worker's ``ledger.seal``, R10-6).

``seal()`` runs batches of at most ``batch`` entries, each its own transaction (claim the head, read the next
sealable entries, append one ``ledger.sealed`` record, move the head), until nothing is left to seal or
``max_batches`` ran. A second sealer running at the same time finds the head claimed and skips; a failed batch
changes nothing. ``verify()`` re-reads every sealed range and names each batch whose entries differ.

Retries are bounded: a batch whose transaction lost to a concurrent writer (``TransientConflict``) is tried again at
most ``attempts`` times in all; a batch that still cannot be sealed (that, or any other failure: an entry the seal
cannot read, the database gone) ends the run and sets the gauge ``cryptopay_ledger_seal_failing`` to 1 (alert
``CryptopayLedgerSealFailing``), logged once per run, instead of raising into the scheduler every minute with
nobody told; a run that seals what is there sets it back to 0. What was sealed before the failure stays sealed.

>>> from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Ledger, Posting
>>> from cryptopay.core.money import KES, Money
>>> from cryptopay.core.testing.system import ManualClock
>>> from cryptopay.core.testing.ledger_seals import InMemoryLedgerSeals
>>> from cryptopay.core.testing.storage import InMemoryStorage
>>> storage = InMemoryStorage()
>>> ledger = Ledger(storage.ledger_store)
>>> for code in ("assets:a", "equity:b"):
...     _ = ledger.open_account(Account(code, AccountKind.ASSET if code[0] == "a" else AccountKind.EQUITY, KES))
>>> _ = ledger.post(EntryRequest("e1", [Posting.debit("assets:a", Money.of("5", KES)),
...                                     Posting.credit("equity:b", Money.of("5", KES))], "gift"))
>>> sealing = LedgerSealing(InMemoryLedgerSeals(storage), ManualClock())
>>> [b.count for b in sealing.seal()], sealing.seal()
([1], [])
>>> report = sealing.verify()
>>> (report.batches, report.sealed, report.waiting, report.problems)
(1, 1, 0, ())
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from cryptopay.core.audit import AuditRecord
from cryptopay.core.errors import InvalidInput, TransientConflict
from cryptopay.core.ledger.seal import SEAL_ACTION, SEAL_SUBJECT, SealBatch, SealPosition, SealProblem, SealReport
from cryptopay.core.ports.ledger_seals import LedgerSeals, LedgerSealSession, SealHead
from cryptopay.core.ports.monitoring import Metrics
from cryptopay.core.ports.storage import retrying
from cryptopay.core.ports.system import Clock

__all__ = ["SEAL_FAILING", "LedgerSealing"]

SEAL_FAILING = "cryptopay_ledger_seal_failing"
_ABOUT_FAILING = "1 when the last ledger.seal run stopped at a batch it could not seal (0: it sealed what was there)"
_log = logging.getLogger(__name__)


class LedgerSealing:
    """Seal committed ledger entries in bounded batches; verify every batch sealed so far."""

    def __init__(
        self,
        seals: LedgerSeals,
        clock: Clock,
        *,
        batch: int = 2000,
        max_batches: int = 50,
        attempts: int = 3,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if batch < 1 or max_batches < 1 or attempts < 1:
            raise InvalidInput("a seal batch holds at least one entry, and a run seals (and tries) at least once")
        self._seals, self._clock, self._metrics, self._sleep = seals, clock, metrics, sleep
        self._batch, self._max_batches, self._attempts = batch, max_batches, attempts

    def seal(self) -> list[SealBatch]:
        """Seal what is sealable now, batch by batch; the batches sealed (none: nothing new, or another sealer). A
        batch that cannot be sealed ends the run (``SEAL_FAILING`` set), after those sealed before it."""
        sealed: list[SealBatch] = []
        failing = False
        while len(sealed) < self._max_batches:
            try:
                batch = retrying(
                    self._seal_one, max_attempts=self._attempts, sleep=self._sleep, on=(TransientConflict,)
                )
            except Exception as error:  # any failure is reported alike (its type only: no row's data in the log)
                after = str(sealed[-1].last) if sealed else "the head"
                _log.error("ledger seal: the batch after %s could not be sealed (%s)", after, type(error).__name__)
                failing = True
                break
            if batch is None:
                break
            sealed.append(batch)
        if self._metrics is not None:
            self._metrics.gauge(SEAL_FAILING, 1 if failing else 0, about=_ABOUT_FAILING)
        return sealed

    def _seal_one(self) -> SealBatch | None:
        with self._seals.session() as session:
            head = session.claim()
            if head is None:
                return None
            entries = session.sealable(head.last, self._batch)
            if not entries:
                return None
            batch = SealBatch.of(head.last, entries)
            session.audit.append(batch.event(self._clock.now()))
            session.move_head(SealHead(batch.last, head.batches + 1, head.sealed + batch.count))
            return batch

    def verify(self) -> SealReport:
        """Every sealed batch re-computed from the stored entries; the head checked against the last batch."""
        with self._seals.reading() as session:
            problems: list[SealProblem] = []
            previous: SealPosition | None = None
            batches = sealed = 0
            for record in _seal_records(session):
                batch, problem = _checked(session, record, previous)
                if problem is not None:
                    problems.append(problem)
                if batch is not None:
                    previous, batches, sealed = batch.last, batches + 1, sealed + batch.count
            head = session.head()
            if head.last != previous:
                where = str(head.last) if head.last else "nothing"
                last = str(previous) if previous else "none"
                problems.append(SealProblem(0, "head", f"the seal head names {where}, the last sealed batch {last}"))
            return SealReport(batches, sealed, session.count_after(previous), tuple(problems))


def _seal_records(session: LedgerSealSession, page: int = 1000) -> Iterator[AuditRecord]:
    after = 0
    while True:
        found = session.audit.about([SEAL_SUBJECT], after_seq=after, limit=page)
        yield from (r for r in found if r.action == SEAL_ACTION)
        if len(found) < page:
            return
        after = found[-1].seq


def _checked(
    session: LedgerSealSession, record: AuditRecord, previous: SealPosition | None
) -> tuple[SealBatch | None, SealProblem | None]:
    try:
        batch = SealBatch.from_event(record.event)
    except InvalidInput as error:
        return None, SealProblem(record.seq, "-", str(error))
    name = f"{batch.first} .. {batch.last}"
    if batch.after != previous:
        return batch, SealProblem(record.seq, name, "it does not follow the batch before it (a seal lost or forged)")
    reason = batch.differs(session.between(batch.after, batch.last))
    return batch, None if reason is None else SealProblem(record.seq, name, reason)
