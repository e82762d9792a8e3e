"""The ``backend`` fixture: every contract test runs against the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.sql import make_engine
from sqlalchemy.engine import Engine

from tests.support.sql_backends import (
    TEST_PERSONAL,
    Backend,
    SqliteTemplate,
    empty_postgres,
    memory_backend,
    postgres_database,
    sql_backend,
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    """A migrated SQLite database to copy."""
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def contract_pg_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of the contract tests' own."""
    with postgres_database(postgres_admin_url, "cryptopay_contract") as url:
        yield url


@pytest.fixture(scope="session")
def contract_pg_engine(contract_pg_url: str) -> Iterator[Engine]:
    engine = make_engine(contract_pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """One storage backend, empty."""
    if request.param == "memory":
        yield memory_backend()
    elif request.param == "sqlite":
        found = sql_backend("sqlite", request.getfixturevalue("sqlite_template").fresh_url(tmp_path))
        yield found
        assert found.engine is not None
        found.engine.dispose()
    else:
        engine: Engine = request.getfixturevalue("contract_pg_engine")
        empty_postgres(engine)
        yield sql_backend_from_engine(engine)


def sql_backend_from_engine(engine: Engine) -> Backend:
    from cryptopay.adapters.sql.uow import SqlStorage

    return Backend("postgres", SqlStorage(engine, personal=TEST_PERSONAL), engine)
