"""Shared fixtures: a throw-away PostgreSQL database per test run, and the real Redis.

The servers come from ``DATABASE_URL`` / ``REDIS_URL`` when set (``scripts/with-services.sh`` sets them for
``make test``, starting throw-away servers when none is running), else the local services on 127.0.0.1.
A missing server is a test error, never a skip: CI must not pass without the real-database tests.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.support.url_builders import share_url_builders

share_url_builders()  # werkzeug's URL builders compiled once per process, not once per app (see the module)


def _admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A URL to the PostgreSQL server with rights to create databases (the migrated template that fresh test
    databases are copied from, ``tests.support.sql_backends.migrated_template``, is dropped at the end)."""
    import psycopg

    url = _admin_url()
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is required for these tests and is not reachable: {error}", pytrace=False)
    yield url
    from tests.support.sql_backends import drop_templates

    drop_templates()


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (SQLAlchemy URL), dropped at the end."""
    import psycopg

    from tests.support.sql_backends import create_database

    name = f"cryptopay_test_{os.getpid()}_{secrets.token_hex(3)}"
    create_database(postgres_admin_url, name)
    base, _, _ = postgres_admin_url.rpartition("/")
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis (``REDIS_URL`` or 127.0.0.1:6379); tests use their own key prefixes or queue names."""
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is required for these tests and is not reachable: {error}", pytrace=False)
    return url
