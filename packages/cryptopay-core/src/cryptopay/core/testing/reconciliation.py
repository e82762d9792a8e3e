"""Account Balance queries in memory (``BalanceQueryStore``), kept as copies like the SQL store keeps rows."""

from __future__ import annotations

import copy
import threading

from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.reconciliation.model import BalanceQuery

__all__ = ["InMemoryBalanceQueries"]


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
