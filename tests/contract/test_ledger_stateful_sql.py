"""The foundation's stateful ledger test (random operations, every invariant after each step) on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptopay.adapters.sql import SqlLedgerStore, make_engine
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy.engine import Engine

from tests.support.ledger_machine import LedgerMachine
from tests.support.sql_backends import SqliteTemplate, empty_postgres

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_ledger_machine_on_postgres(contract_pg_engine: Engine) -> None:
    """Random transfers, holds, posts, voids, reversals and conversions keep every invariant on PostgreSQL."""

    class OnPostgres(LedgerMachine):
        def make_store(self) -> Any:
            empty_postgres(contract_pg_engine)
            return SqlLedgerStore(contract_pg_engine)

    run_state_machine_as_test(OnPostgres, settings=SETTINGS)


def test_ledger_machine_on_sqlite(sqlite_template: SqliteTemplate, tmp_path: Path) -> None:
    """The same random operations keep every invariant on SQLite."""
    engines: list[Engine] = []

    class OnSqlite(LedgerMachine):
        def make_store(self) -> Any:
            while engines:
                engines.pop().dispose()
            engines.append(make_engine(sqlite_template.fresh_url(tmp_path)))
            return SqlLedgerStore(engines[-1])

    try:
        run_state_machine_as_test(OnSqlite, settings=SETTINGS)
    finally:
        for engine in engines:
            engine.dispose()
