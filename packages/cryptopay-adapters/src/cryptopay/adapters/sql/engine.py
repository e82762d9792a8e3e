"""Engines from a URL: SQLite (the embedded default, a file under the data directory) or PostgreSQL.

SQLite gets foreign keys, WAL, a busy timeout and ``BEGIN IMMEDIATE`` for writer transactions, so writers
queue up instead of failing half-way; read-only work can ask for a plain deferred ``BEGIN`` with
``connection.execution_options(sqlite_readonly=True)``.

SQLite has one writer at a time, so a thread that opens a second writer transaction while its first is still
open waits for itself until the busy timeout (30 s), stalling every other writer meanwhile. That is refused at
once (``NestedWriteTransaction``): the code must do the work in the transaction it already has, or read first.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters._paths import private_file
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "DATABASE_URL_ENV",
    "DATA_DIR_ENV",
    "NestedWriteTransaction",
    "default_database_url",
    "make_engine",
    "normalize_url",
    "resolve_url",
]


class NestedWriteTransaction(RuntimeError):
    """A thread opened a second SQLite writer transaction while its first was open (it would wait for itself)."""


DATABASE_URL_ENV = "CRYPTOPAY_DATABASE_URL"
DATA_DIR_ENV = "CRYPTOPAY_DATA_DIR"


def default_database_url(data_dir: Path | str | None = None) -> str:
    """``sqlite:///<data dir>/cryptopay.db``; the data dir is ``$CRYPTOPAY_DATA_DIR`` or ``./.cryptopay``.

    >>> default_database_url("/srv/cp")
    'sqlite:////srv/cp/cryptopay.db'
    """
    base = Path(data_dir or os.environ.get(DATA_DIR_ENV) or Path.cwd() / ".cryptopay")
    return f"sqlite:///{base / 'cryptopay.db'}"


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs.

    >>> normalize_url("postgresql://postgres@127.0.0.1:5432/cryptopay")
    'postgresql+psycopg://postgres@127.0.0.1:5432/cryptopay'
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def resolve_url(url: str | None = None) -> str:
    """The given URL, else ``$CRYPTOPAY_DATABASE_URL``, else the SQLite default."""
    return normalize_url(url or os.environ.get(DATABASE_URL_ENV) or default_database_url())


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    writers = threading.local()  # how many writer transactions this thread has open on this engine

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # each statement its own snapshot (SqlStorage.reading): no BEGIN, and never the write lock
        readonly = options.get("sqlite_readonly", False)
        if not readonly:
            if getattr(writers, "open", 0):
                raise NestedWriteTransaction(
                    "this thread already has a write transaction open on this SQLite database; a second one "
                    "would wait for the first until the busy timeout (do the work in the open transaction)"
                )
            writers.open = 1
            conn.info["cryptopay_writer"] = True
        try:
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
        except BaseException:
            _ended(conn)
            raise

    def _ended(conn: Connection) -> None:
        if conn.info.pop("cryptopay_writer", False):
            writers.open = 0

    event.listen(engine, "commit", _ended)
    event.listen(engine, "rollback", _ended)


def make_engine(url: str | None = None, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for ``url`` (see ``resolve_url``); creates the SQLite file's directory when needed."""
    resolved = sa.make_url(resolve_url(url))
    if resolved.get_backend_name() == "sqlite":
        database = resolved.database or ""
        if database and database != ":memory:":
            private_file(Path(database))  # password hashes live here: 0600 in a 0700 directory
        engine = sa.create_engine(resolved, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_setup(engine)
        return engine
    return sa.create_engine(resolved, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)
