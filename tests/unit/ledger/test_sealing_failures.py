"""The ledger seal's retries are bounded: a batch that cannot be sealed ends the run and raises the gauge an alert
watches (``CryptopayLedgerSealFailing``), instead of failing into the scheduler every minute with nobody told."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptopay.core.errors import TransientConflict
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Ledger, Posting
from cryptopay.core.ledger.sealing import SEAL_FAILING, LedgerSealing
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.ledger_seals import InMemoryLedgerSeals
from cryptopay.core.testing.metrics import RecordingMetrics
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock


class _Losing:
    """``LedgerSeals`` over the in-memory one whose sessions lose to a concurrent writer ``losses`` times (or fail
    with ``error`` while ``broken``), as a busy database would."""

    def __init__(self, storage: InMemoryStorage, *, losses: int = 0, error: Exception | None = None) -> None:
        self._inner, self.losses, self.error, self.tries = InMemoryLedgerSeals(storage), losses, error, 0

    @contextmanager
    def session(self) -> Iterator[Any]:
        self.tries += 1
        if self.error is not None:
            raise self.error
        if self.losses:
            self.losses -= 1
            raise TransientConflict("could not serialize access")
        with self._inner.session() as session:
            yield session

    def reading(self) -> Any:
        return self._inner.reading()


def _storage(entries: int) -> InMemoryStorage:
    storage = InMemoryStorage()
    ledger = Ledger(storage.ledger_store)
    ledger.open_account(Account("assets:a", AccountKind.ASSET, KES))
    ledger.open_account(Account("equity:b", AccountKind.EQUITY, KES))
    for n in range(entries):
        pair = [Posting.debit("assets:a", Money.of(1, KES)), Posting.credit("equity:b", Money.of(1, KES))]
        ledger.post(EntryRequest(f"e{n}", pair, "gift"))
    return storage


def _sealing(seals: Any, metrics: RecordingMetrics, **options: Any) -> LedgerSealing:
    return LedgerSealing(seals, ManualClock(), metrics=metrics, sleep=lambda _s: None, **options)


def test_a_batch_lost_to_a_writer_is_tried_again_within_the_bound_and_the_gauge_stays_down() -> None:
    """Two losses, three attempts: the batch is sealed; the gauge reads 0."""
    metrics, seals = RecordingMetrics(), _Losing(_storage(2), losses=2)
    assert [b.count for b in _sealing(seals, metrics, attempts=3).seal()] == [2]
    assert metrics.get(SEAL_FAILING) == 0


def test_a_batch_that_cannot_be_sealed_ends_the_run_after_the_bound_and_raises_the_gauge() -> None:
    """Losing every attempt: tried ``attempts`` times, not forever, nothing sealed, the gauge at 1; a failure of
    another kind is tried once; the next run that seals sets the gauge back to 0."""
    storage, metrics = _storage(3), RecordingMetrics()
    seals = _Losing(storage, losses=100)
    assert _sealing(seals, metrics, attempts=3).seal() == [] and seals.tries == 3
    assert metrics.get(SEAL_FAILING) == 1
    broken = _Losing(storage, error=RuntimeError("connection lost"))
    assert _sealing(broken, metrics, attempts=3).seal() == [] and broken.tries == 1
    assert metrics.get(SEAL_FAILING) == 1
    assert [b.count for b in _sealing(InMemoryLedgerSeals(storage), metrics, batch=2).seal()] == [2, 1]
    assert metrics.get(SEAL_FAILING) == 0
