"""Account Balance queries on SQL (``BalanceQueryStore``): each write is its own short transaction.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> from cryptopay.adapters.sql import make_engine, upgrade
>>> from cryptopay.core.money import Money
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> store = SqlBalanceQueryStore(make_engine(url))
>>> now = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
>>> store.add(BalanceQuery(id="bq_1", token_digest="d1", asked_at=now))
>>> store.latest_answered() is None, store.by_token("d1").id
(True, 'bq_1')
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import document
from cryptopay.adapters.sql.repositories._base import first_document, insert_new, update_one, writing
from cryptopay.adapters.sql.tables_reconciliation import mpesa_balance_queries as queries
from cryptopay.core.errors import Conflict
from cryptopay.core.reconciliation.model import BalanceQuery
from sqlalchemy.engine import Engine

__all__ = ["SqlBalanceQueryStore"]


def _row(query: BalanceQuery) -> dict[str, Any]:
    return {
        "id": query.id,
        "token_digest": query.token_digest,
        "answered_at": query.answered_at,
        "has_balance": query.available is not None,
        "doc": document(query),
    }


class SqlBalanceQueryStore:
    """One row per query: its token digest (unique) and whether and when it was answered with a balance."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, query: BalanceQuery) -> None:
        with writing(self._engine) as conn:
            if not insert_new(conn, queries, _row(query)):
                raise Conflict(f"balance query {query.id} or its token exists")

    def update(self, query: BalanceQuery) -> None:
        update_one(
            self._engine,
            queries,
            queries.c.id == query.id,
            _row(query),
            missing=f"no balance query {query.id} to update",
        )

    def by_token(self, token_digest: str) -> BalanceQuery | None:
        return self._one(queries.c.token_digest == token_digest)

    def latest_answered(self) -> BalanceQuery | None:
        latest = sa.select(queries.c.doc).where(queries.c.has_balance).order_by(queries.c.answered_at.desc())
        return first_document(self._engine, latest.limit(1), BalanceQuery)

    def _one(self, where: Any) -> BalanceQuery | None:
        return first_document(self._engine, sa.select(queries.c.doc).where(where), BalanceQuery)
