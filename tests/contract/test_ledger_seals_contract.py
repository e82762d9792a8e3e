"""The LedgerSeals port (R10-6): memory, SQLite and PostgreSQL seal committed ledger entries into the audit chain in
bounded batches, in commit order, each once, and verify them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Ledger, Posting
from cryptopay.core.ledger.seal import SEAL_ACTION, SEAL_SUBJECT, SealBatch
from cryptopay.core.ledger.sealing import LedgerSealing
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.system import ManualClock

from tests.support.ledger_seal import wait_sealable
from tests.support.sql_backends import Backend


def _seals(backend: Backend) -> Any:
    if backend.engine is None:
        from cryptopay.core.testing.ledger_seals import InMemoryLedgerSeals

        return InMemoryLedgerSeals(backend.storage)
    from cryptopay.adapters.sql.ledger_seal import SqlLedgerSeals

    return SqlLedgerSeals(backend.engine)


def _ledger(backend: Backend) -> Ledger:
    ledger = Ledger(backend.ledger_store)
    ledger.open_account(Account("assets:float:KES", AccountKind.ASSET, KES))
    ledger.open_account(Account("equity:owner:KES", AccountKind.EQUITY, KES))
    return ledger


def _post(ledger: Ledger, key: str, amount: str = "10.50") -> str:
    postings = [
        Posting.debit("assets:float:KES", Money.of(amount, KES)),
        Posting.credit("equity:owner:KES", Money.of(amount, KES)),
    ]
    return ledger.post(EntryRequest(key, postings, f"capital {key}", metadata={"ref": key})).id


def _sealing(backend: Backend, **bounds: int) -> LedgerSealing:
    wait_sealable(backend.engine)  # PostgreSQL: no other test's open transaction holds the xmin back
    return LedgerSealing(_seals(backend), ManualClock(), **bounds)


def _seal_records(backend: Backend) -> list[Any]:
    with _seals(backend).reading() as session:
        return [r for r in session.audit.about([SEAL_SUBJECT]) if r.action == SEAL_ACTION]


def test_entries_are_sealed_in_bounded_batches_in_order_each_once(backend: Backend) -> None:
    """Five entries with batches of two: three ledger.sealed records (2, 2, 1) chained one after another; a second
    run seals nothing; verify counts five sealed, none waiting, no problem."""
    ledger = _ledger(backend)
    ids = [_post(ledger, f"seal-{n}") for n in range(5)]
    batches = _sealing(backend, batch=2).seal()
    assert [b.count for b in batches] == [2, 2, 1]
    assert batches[0].after is None and [b.after for b in batches[1:]] == [b.last for b in batches[:-1]]
    assert (batches[0].first.entry_id, batches[-1].last.entry_id) == (ids[0], ids[-1])  # commit order
    assert _sealing(backend, batch=2).seal() == []
    records = _seal_records(backend)
    assert [SealBatch.from_event(r.event) for r in records] == batches
    report = _sealing(backend).verify()
    assert (report.batches, report.sealed, report.waiting, report.problems) == (3, 5, 0, ())


def test_a_run_seals_at_most_its_batches_and_the_rest_waits(backend: Backend) -> None:
    """A run is bounded (batch 2, one batch): the other entries wait, verify says how many, the next run goes on
    from where the last stopped."""
    ledger = _ledger(backend)
    for n in range(5):
        _post(ledger, f"bound-{n}")
    first = _sealing(backend, batch=2, max_batches=1).seal()
    assert [b.count for b in first] == [2]
    assert _sealing(backend).verify().waiting == 3
    later = _sealing(backend, batch=10).seal()
    assert [b.count for b in later] == [3] and later[0].after == first[0].last
    report = _sealing(backend).verify()
    assert (report.sealed, report.waiting, report.problems) == (5, 0, ())


def test_entries_after_a_seal_go_into_the_next_batch(backend: Backend) -> None:
    """Entries posted after a seal are waiting, then sealed by the next run in a batch that follows the first."""
    ledger = _ledger(backend)
    _post(ledger, "before")
    [first] = _sealing(backend).seal()
    late = [_post(ledger, f"after-{n}", "1") for n in range(2)]
    assert _sealing(backend).verify().waiting == 2
    [second] = _sealing(backend).seal()
    assert second.after == first.last and second.count == 2 and second.last.entry_id in late
    assert _sealing(backend).verify().problems == ()


def test_an_empty_ledger_seals_nothing_and_verifies(backend: Backend) -> None:
    """Nothing posted: no record, verify intact with nothing sealed or waiting."""
    assert _sealing(backend).seal() == []
    report = _sealing(backend).verify()
    assert (report.batches, report.sealed, report.waiting, report.problems) == (0, 0, 0, ())


def test_bounds_must_be_positive() -> None:
    """A batch of no entries, or a run of no batches, is refused."""
    from cryptopay.core.testing.ledger_seals import InMemoryLedgerSeals
    from cryptopay.core.testing.storage import InMemoryStorage

    with pytest.raises(InvalidInput):
        LedgerSealing(InMemoryLedgerSeals(InMemoryStorage()), ManualClock(), batch=0)


def test_the_digest_covers_amounts_exactly(backend: Backend) -> None:
    """The sealed digest is the same whichever store computed it: amounts are read back exactly (not as floats)."""
    ledger = _ledger(backend)
    _post(ledger, "exact", "0.10")
    [batch] = _sealing(backend).seal()
    with _seals(backend).reading() as session:
        [entry] = session.between(None, batch.last)
    assert [line.amount for line in entry.lines] == [Decimal("0.10"), Decimal("-0.10")]
    assert entry.metadata == (("ref", "exact"),)
