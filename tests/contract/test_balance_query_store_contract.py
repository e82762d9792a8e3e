"""Account Balance query stores (memory, SQLite, PostgreSQL): recorded before sending, found by token, latest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.adapters.sql.repositories.reconciliation import SqlBalanceQueryStore
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation import BalanceQuery
from cryptopay.core.testing.reconciliation import InMemoryBalanceQueries

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(engine):
    return InMemoryBalanceQueries() if engine is None else SqlBalanceQueryStore(engine)


def answered(query: BalanceQuery, minutes: int, available: str | None) -> BalanceQuery:
    done = attrs.evolve(query)
    amount = Money.of(available, KES) if available is not None else None
    done.answered(NOW + timedelta(minutes=minutes), available=amount, books=Money.of(-5, KES), code="0", desc="ok")
    return done


def test_queries_are_found_by_token_and_the_latest_balance_wins(store):
    """A query is found by its token's digest; the latest answer with a balance is the one reconciliation uses."""
    first, second, third = (BalanceQuery(id=f"bq_{n}", token_digest=f"d{n}", asked_at=NOW) for n in (1, 2, 3))
    for query in (first, second, third):
        store.add(query)
    assert store.latest_answered() is None and store.by_token("d2") == second and store.by_token("d9") is None
    store.update(answered(first, 1, "100"))
    store.update(answered(second, 3, "90.50"))
    store.update(answered(third, 5, None))  # a failed answer carries no balance
    latest = store.latest_answered()
    assert latest == answered(second, 3, "90.50") and latest.books == Money.of(-5, KES)


def test_a_token_or_id_is_recorded_once_and_only_stored_queries_update(store):
    """A second query with the same token digest is a Conflict; updating an unknown query is NotFound."""
    store.add(BalanceQuery(id="bq_1", token_digest="d1", asked_at=NOW))
    with pytest.raises(Conflict):
        store.add(BalanceQuery(id="bq_2", token_digest="d1", asked_at=NOW))
    with pytest.raises(NotFound):
        store.update(BalanceQuery(id="bq_9", token_digest="d9", asked_at=NOW))
