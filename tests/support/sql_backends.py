"""Storage backends for the contract tests: in-memory, SQLite (a migrated temporary file) and PostgreSQL.

PostgreSQL tests get a database of their own on the test server (created from ``postgres_admin_url``, migrated
once, emptied between tests), so they never disturb other areas' tests that share ``database_url``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import psycopg
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.personal import PersonalData
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.adapters.vault import EnvelopeVault, generate_kek
from cryptopay.core.testing.storage import InMemoryStorage
from sqlalchemy.engine import Engine

TABLES_KEPT = {"alembic_version", "audit_head"}

TEST_PERSONAL = PersonalData(EnvelopeVault.from_spec(f"test:{generate_kek()}"), secrets.token_bytes(32))
"""Personal data sealed as in production: every contract suite on SQL proves lookups work through keyed hashes."""


@attrs.define
class Backend:
    """A named storage: its unit-of-work factory, its ledger store and (for SQL) its engine."""

    name: str
    storage: Any
    engine: Engine | None = None

    @property
    def ledger_store(self) -> Any:
        return self.storage.ledger_store

    @property
    def uow(self) -> Callable[[], Any]:
        return self.storage.unit_of_work


@contextmanager
def postgres_database(admin_url: str, prefix: str = "cryptopay_sql") -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (SQLAlchemy URL), dropped afterwards.

    It is a copy of ``migrated_template(admin_url)`` (``CREATE DATABASE ... TEMPLATE``, a fraction of a second),
    not migrated again (seconds each time, and dozens of tests ask for one).
    """
    name = f"{prefix}_{secrets.token_hex(4)}"
    template = migrated_template(admin_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _database_url(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_templates: dict[str, str] = {}


def migrated_template(admin_url: str) -> str:
    """The name of a PostgreSQL database migrated to head once in this process, for ``postgres_database`` to copy.

    Each process (each pytest-xdist worker) has its own; ``drop_templates`` (at the end of the test session, and at
    exit) removes it.
    """
    if admin_url not in _templates:
        name = f"cryptopay_template_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            upgrade(_database_url(admin_url, name))  # disposes its engine: nobody is connected when it is copied
        except BaseException:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            raise
        if not _templates:
            atexit.register(drop_templates)
        _templates[admin_url] = name
    return _templates[admin_url]


def drop_templates() -> None:
    """Drop the templates ``migrated_template`` made in this process."""
    while _templates:
        admin_url, name = _templates.popitem()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def empty_postgres(engine: Engine) -> None:
    """Remove every row (TRUNCATE fires no row triggers) and reset the audit head."""
    with engine.begin() as conn:
        names = [r[0] for r in conn.exec_driver_sql("select tablename from pg_tables where schemaname = 'public'")]
        tables = ", ".join(f'"{n}"' for n in names if n not in TABLES_KEPT)
        conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
        conn.exec_driver_sql(f"UPDATE audit_head SET seq = 0, hash = '{'0' * 64}'")


class SqliteTemplate:
    """A migrated SQLite file, copied for each test (migrating every time would be slow)."""

    def __init__(self, directory: Path) -> None:
        self._template = directory / "template.db"
        upgrade(f"sqlite:///{self._template}")

    def fresh_url(self, directory: Path) -> str:
        target = directory / f"cp_{secrets.token_hex(4)}.db"
        shutil.copyfile(self._template, target)
        return f"sqlite:///{target}"


def memory_backend(**repositories: Any) -> Backend:
    return Backend("memory", InMemoryStorage(**repositories))


def sql_backend(name: str, url: str) -> Backend:
    engine = make_engine(url)
    return Backend(name, SqlStorage(engine, personal=TEST_PERSONAL), engine)
