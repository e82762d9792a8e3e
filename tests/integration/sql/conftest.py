"""Fixtures for the SQL integration tests: a migrated PostgreSQL database of their own, and SQLite files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptopay.adapters.sql import make_engine
from sqlalchemy.engine import Engine

from tests.support.sql_backends import empty_postgres, postgres_database


@pytest.fixture(scope="session")
def sql_pg_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database for the SQL integration tests."""
    with postgres_database(postgres_admin_url, "cryptopay_sqlint") as url:
        yield url


@pytest.fixture
def pg_engine(sql_pg_url: str) -> Iterator[Engine]:
    """An engine on that database, emptied first."""
    engine = make_engine(sql_pg_url, pool_size=20)
    empty_postgres(engine)
    yield engine
    engine.dispose()
