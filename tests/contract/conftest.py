"""The ``backend`` fixture: every contract test runs against the in-memory fake, SQLite and PostgreSQL; and the
chain simulators (``esplora``, ``trongrid``) the real watchers and senders talk HTTP to, served once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptopay.adapters.sql import make_engine
from sqlalchemy.engine import Engine

from tests.support.chain_simulators import served_esplora, served_trongrid
from tests.support.sql_backends import (
    TEST_PERSONAL,
    Backend,
    SqliteTemplate,
    empty_postgres,
    memory_backend,
    postgres_database,
    sql_backend,
)
from tests.support.sql_engines import BACKENDS, backend_engine


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


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    """One backend's engine, its repository tables empty: None in memory (the module builds its fakes), else SQLite
    or PostgreSQL (``tests.support.sql_engines.backend_engine``)."""
    yield from backend_engine(request, tmp_path)


@pytest.fixture
def in_memory_backend() -> Backend:
    """What ``backend`` is in its in-memory variant: every store empty. A contract module whose port needs more
    repositories in memory (a wallet's, a withdrawal's) overrides this fixture, and ``backend`` stays the one."""
    return memory_backend()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """One storage backend, empty: in memory (``in_memory_backend``), SQLite or PostgreSQL."""
    if request.param == "memory":
        yield request.getfixturevalue("in_memory_backend")
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


@pytest.fixture(scope="module")
def esplora() -> Iterator[tuple[Any, str]]:
    """A simulated Bitcoin chain and its Esplora-shaped API's URL, once per module (``chain.reset()`` per test)."""
    with served_esplora() as served:
        yield served


@pytest.fixture(scope="module")
def trongrid() -> Iterator[tuple[Any, str]]:
    """A simulated Tron chain and its TronGrid-shaped API's URL, once per module (``chain.reset()`` per test)."""
    with served_trongrid() as served:
        yield served
