"""The SQL unit of work: one connection, one transaction, every repository on it.

``SqlStorage(engine).unit_of_work()`` (or calling the storage) opens a transaction; the ledger session, audit log,
outbox and repositories all write through it, and it commits when the block exits normally. Database errors
come out as SDK errors (``TransientConflict`` for races: use ``cryptopay.core.ports.storage.in_transaction``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from cryptopay.adapters.sql.audit import SqlAuditLog
from cryptopay.adapters.sql.ledger_store import SqlLedgerSession, SqlLedgerStore, flushing_transaction
from cryptopay.adapters.sql.outbox import SqlOutbox
from cryptopay.adapters.sql.repositories import REPOSITORIES
from cryptopay.core.ports.system import IdGenerator
from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlStorage", "SqlUnitOfWork"]


class SqlUnitOfWork:
    """The repositories of one SQL transaction (see ``cryptopay.core.ports.storage.UnitOfWork``)."""

    def __init__(
        self,
        conn: Connection,
        ids: IdGenerator | None = None,
        factories: Mapping[str, Callable[[Connection], Any]] | None = None,
    ) -> None:
        self.connection = conn
        self.ledger = SqlLedgerSession(conn)
        self.audit = SqlAuditLog(conn, ids)
        self.outbox = SqlOutbox(conn)
        self._repositories: dict[str, Any] = {}
        self._factories = factories or {}

    def __getattr__(self, name: str) -> Any:
        factory = self.__dict__.get("_factories", {}).get(name) or REPOSITORIES.get(name)
        if factory is None:
            raise AttributeError(name)
        repository = self.__dict__["_repositories"].get(name)
        if repository is None:
            repository = self.__dict__["_repositories"][name] = factory(self.__dict__["connection"])
        return repository

    def flush(self) -> None:
        """Write what the ledger session buffered (done automatically before commit)."""
        self.ledger.flush()


class SqlStorage:
    """Holds the engine; ``unit_of_work()`` is the ``UnitOfWorkFactory`` and ``ledger_store`` the ``LedgerStore``."""

    def __init__(
        self,
        engine: Engine,
        *,
        ids: IdGenerator | None = None,
        repositories: Mapping[str, Callable[[Connection], Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.ledger_store = SqlLedgerStore(engine)
        self._ids = ids
        self._factories = dict(repositories or {})  # override REPOSITORIES (e.g. webhook_repositories(cipher))

    def unit_of_work(self) -> AbstractContextManager[SqlUnitOfWork]:
        return flushing_transaction(self.engine, lambda conn: SqlUnitOfWork(conn, self._ids, self._factories))

    __call__ = unit_of_work
