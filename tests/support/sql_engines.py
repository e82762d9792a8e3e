"""Engines for the repository contract tests: None (the in-memory fake), a fresh SQLite file, or PostgreSQL.

Use from a module's fixture parametrised over ``BACKENDS``; it reuses ``sqlite_template`` and
``contract_pg_engine`` from tests/contract/conftest.py (PostgreSQL is emptied before each test).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import cryptopay.adapters.sql.tables_compliance
import cryptopay.adapters.sql.tables_fx_chains
import cryptopay.adapters.sql.tables_identity
import cryptopay.adapters.sql.tables_payments
import cryptopay.adapters.sql.tables_reconciliation
import cryptopay.adapters.sql.tables_travel_rule
import cryptopay.adapters.sql.tables_treasury
import cryptopay.adapters.sql.tables_webhooks
import cryptopay.adapters.sql.tables_withdrawals  # noqa: F401  (their tables join the shared MetaData)
import pytest
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.tables import metadata
from sqlalchemy.engine import Engine

from tests.support.sql_backends import tables_with_rows

BACKENDS = ["memory", "sqlite", "postgres"]
SQL_BACKENDS = ["sqlite", "postgres"]
T = TypeVar("T")


def backend_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    """Yield the engine ``request.param`` names (None for ``memory``)."""
    if request.param == "memory":
        yield None
    elif request.param == "sqlite":
        engine = make_engine(request.getfixturevalue("sqlite_template").fresh_url(tmp_path))
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("contract_pg_engine")
        empty_repository_tables(engine)
        yield engine


_LEDGER_AREA = {"ledger_accounts", "ledger_entries", "ledger_lines", "ledger_holds", "ledger_idempotency"}
_LEDGER_AREA |= {"audit_log", "audit_head", "outbox"}


def empty_repository_tables(engine: Engine) -> None:
    """Delete the rows of the repository tables (children first; far quicker than truncating every table), and on
    PostgreSQL truncate the append-only ledger area too (its triggers refuse DELETE; TRUNCATE fires no row trigger),
    so that no test meets another's entries, idempotency keys or outbox ids, whatever the order the tests run in.
    Only the tables that have a row are touched (a test fills a few of the sixty)."""
    tables = [t for t in reversed(metadata.sorted_tables) if t.name not in _LEDGER_AREA]
    with engine.begin() as conn:
        full = tables_with_rows(conn.exec_driver_sql, [t.name for t in tables] + sorted(_LEDGER_AREA - {"audit_head"}))
        for table in tables:
            if table.name in full:
                conn.execute(table.delete())
        if engine.dialect.name == "postgresql":
            if ledger := sorted(full & _LEDGER_AREA):
                conn.exec_driver_sql(f"TRUNCATE {', '.join(ledger)} CASCADE")
            conn.exec_driver_sql(f"UPDATE audit_head SET seq = 0, hash = '{'0' * 64}'")


def race(threads: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` on ``threads`` threads released together; the results in thread order."""
    barrier = threading.Barrier(threads)

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, range(threads)))
