"""Account Balance queries (``BalanceQueryStore``) and reconciliation runs (``ReconciliationRuns``) in memory, kept
as copies like the SQL stores keep rows."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from datetime import datetime

from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.reconciliation.model import BalanceQuery, CheckRecord

__all__ = ["InMemoryBalanceQueries", "InMemoryReconciliationRuns"]


class InMemoryBalanceQueries:
    """Queries by id; a token digest names one query."""

    def __init__(self) -> None:
        self._queries: dict[str, BalanceQuery] = {}
        self._lock = threading.Lock()

    def add(self, query: BalanceQuery) -> None:
        with self._lock:
            taken = any(q.token_digest == query.token_digest for q in self._queries.values())
            if query.id in self._queries or taken:
                raise Conflict(f"balance query {query.id} or its token exists")
            self._queries[query.id] = copy.deepcopy(query)

    def update(self, query: BalanceQuery) -> None:
        with self._lock:
            if query.id not in self._queries:
                raise NotFound(f"no balance query {query.id} to update")
            self._queries[query.id] = copy.deepcopy(query)

    def by_token(self, token_digest: str) -> BalanceQuery | None:
        with self._lock:
            found = next((q for q in self._queries.values() if q.token_digest == token_digest), None)
            return copy.deepcopy(found)

    def latest_answered(self) -> BalanceQuery | None:
        with self._lock:
            answered = [q for q in self._queries.values() if q.available is not None and q.answered_at is not None]
            return copy.deepcopy(max(answered, key=lambda q: (q.answered_at, q.id))) if answered else None


class InMemoryReconciliationRuns:
    """Check results by (run id, check name)."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], CheckRecord] = {}
        self._lock = threading.Lock()

    def add(self, records: Sequence[CheckRecord]) -> None:
        with self._lock:
            runs = {r.run_id for r in records}
            if any(run in runs for run, _ in self._records) or len({(r.run_id, r.name) for r in records}) != len(
                records
            ):
                raise Conflict(f"reconciliation run {', '.join(sorted(runs))} is kept already")
            self._records |= {(r.run_id, r.name): copy.deepcopy(r) for r in records}

    def latest_per_check(self) -> list[CheckRecord]:
        with self._lock:
            latest: dict[str, CheckRecord] = {}
            for record in self._records.values():
                now = latest.get(record.name)
                if now is None or _rank(record) > _rank(now):
                    latest[record.name] = record
            return [copy.deepcopy(r) for r in sorted(latest.values(), key=lambda r: (r.area, r.name))]

    def prune(self, *, clean_before: datetime, differences_before: datetime) -> int:
        with self._lock:
            latest: dict[str, CheckRecord] = {}
            for record in self._records.values():
                if record.name not in latest or _rank(record) > _rank(latest[record.name]):
                    latest[record.name] = record
            kept = {(r.run_id, r.name) for r in latest.values()}
            gone = [
                key
                for key, r in self._records.items()
                if key not in kept and r.at < (differences_before if r.found else clean_before)
            ]
            for key in gone:
                del self._records[key]
            return len(gone)


def _rank(record: CheckRecord) -> tuple[bool, object, str]:
    """A result that ran beats a skipped one; then the later run; then the greater run id."""
    return (not record.skipped, record.at, record.run_id)
