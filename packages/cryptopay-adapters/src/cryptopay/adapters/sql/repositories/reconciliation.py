"""Account Balance queries (``BalanceQueryStore``) and reconciliation runs' results (``ReconciliationRuns``) on SQL:
each write is its own short transaction.

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
>>> from cryptopay.core.reconciliation import Check, CheckResult, Report
>>> report = Report(now, (CheckResult(Check("float", "mpesa", lambda _r: []), ()),))
>>> runs = SqlReconciliationRuns(make_engine(url))
>>> runs.add(report.records("rcn_1", "cli"))
>>> [(r.name, r.by, r.found) for r in runs.latest_per_check()]
[('float', 'cli', 0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import document, from_document
from cryptopay.adapters.sql.personal import PersonalData, PersonalFields
from cryptopay.adapters.sql.repositories._base import first_document, insert_new, reading, update_one, writing
from cryptopay.adapters.sql.tables_reconciliation import mpesa_balance_queries as queries
from cryptopay.adapters.sql.tables_reconciliation import reconciliation_results as results
from cryptopay.core.errors import Conflict
from cryptopay.core.reconciliation.model import BalanceQuery, CheckRecord
from sqlalchemy.engine import Engine

__all__ = ["RESULT_FIELDS", "SqlBalanceQueryStore", "SqlReconciliationRuns", "result_key"]

RESULT_FIELDS = PersonalFields(
    "reconciliation_results",
    ("differences[].subject", "differences[].expected", "differences[].actual", "differences[].detail"),
)
"""A kept result's personal fields: its differences' text, which names the parties M-Pesa paid (``254708374149 -
John`` from the statement) and the payouts' destinations."""


def result_key(doc: Any) -> str:
    """The row a result document is bound to when sealed: its run and check."""
    return f"{doc['run_id']}:{doc['name']}"


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


class SqlReconciliationRuns:
    """One row per (run, check): when the run read, whether the check ran, and the result as a document."""

    def __init__(self, engine: Engine, *, personal: PersonalData | None = None) -> None:
        self._engine = engine
        self._personal = personal or PersonalData.plaintext()

    def add(self, records: Sequence[CheckRecord]) -> None:
        rows = [
            {
                "run_id": r.run_id,
                "check_name": r.name,
                "at": r.at,
                "ran": not r.skipped,
                "found": r.found,
                "doc": RESULT_FIELDS.seal(doc, result_key(doc), self._personal),
            }
            for r, doc in ((r, document(r)) for r in records)
        ]
        with writing(self._engine) as conn:
            for row in rows:
                if not insert_new(conn, results, row):
                    raise Conflict(f"reconciliation run {row['run_id']} is kept already")

    def latest_per_check(self) -> list[CheckRecord]:
        with reading(self._engine) as conn:
            docs = conn.scalars(_latest(results.c.doc)).all()
        opened = (RESULT_FIELDS.open(doc, result_key(doc), self._personal) for doc in docs)
        found = [from_document(CheckRecord, doc) for doc in opened]
        return sorted(found, key=lambda r: (r.area, r.name))

    def prune(self, *, clean_before: datetime, differences_before: datetime) -> int:
        old = sa.or_(
            sa.and_(results.c.found == 0, results.c.at < clean_before),
            sa.and_(results.c.found > 0, results.c.at < differences_before),
        )
        with writing(self._engine) as conn:
            kept = [tuple(row) for row in conn.execute(_latest(results.c.run_id, results.c.check_name)).all()]
            where = (
                old if not kept else sa.and_(old, sa.not_(sa.tuple_(results.c.run_id, results.c.check_name).in_(kept)))
            )
            return conn.execute(sa.delete(results).where(where)).rowcount


def _latest(*columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """``columns`` of the best row per check: one that ran before a skipped one, then the latest run (the index's
    order)."""
    rank = sa.func.row_number().over(
        partition_by=results.c.check_name,
        order_by=(results.c.ran.desc(), results.c.at.desc(), results.c.run_id.desc()),
    )
    ranked = sa.select(*columns, rank.label("rank")).subquery()
    return sa.select(*(ranked.c[c.name] for c in columns)).where(ranked.c.rank == 1)
