"""What the SQL repositories share: a transaction on the caller's connection or a short one of their own, and
``INSERT ... ON CONFLICT DO NOTHING`` that says whether the row went in (the same on PostgreSQL and SQLite).
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from cryptopay.adapters.sql.documents import from_document
from cryptopay.adapters.sql.errors import translating
from cryptopay.core.errors import NotFound
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

__all__ = [
    "Bind",
    "DriverRead",
    "advisory_locks",
    "first_document",
    "increment",
    "insert_new",
    "lock_key",
    "prepare_statements",
    "reading",
    "update_one",
    "update_or_insert",
    "update_versioned",
    "upsert",
    "writing",
]

T = TypeVar("T")

Bind = Engine | Connection
"""An engine (each call is its own short transaction) or a unit of work's connection (calls join its transaction)."""


@contextmanager
def writing(bind: Bind) -> Iterator[Connection]:
    """The caller's connection as it is, or a new transaction that commits when the block exits normally."""
    if isinstance(bind, Connection):
        yield bind
        return
    with translating(), bind.connect() as conn, conn.begin():
        yield conn


@contextmanager
def reading(bind: Bind) -> Iterator[Connection]:
    """Like ``writing`` but, on SQLite, without taking the write lock (a deferred ``BEGIN``)."""
    if isinstance(bind, Connection):
        yield bind
        return
    with translating(), bind.connect() as conn:
        conn.execution_options(sqlite_readonly=True)
        with conn.begin():
            yield conn


_Compiled = tuple[str, tuple[tuple[str, Callable[[Any], Any]], ...], tuple[Callable[[Any], Any] | None, ...]]


class DriverRead:
    """A prebuilt statement (a ``SELECT``, or a write ``RETURNING`` columns) that, on PostgreSQL, runs on the psycopg
    connection itself: SQLAlchemy's execution context and result objects were about a sixth of an invoice read's CPU
    and about half of an invoice creation's (``tests/bench/cpu_api.py``). The statement is compiled once per set of
    parameter names; its parameters' bind processors and its columns' result processors are applied as SQLAlchemy
    would. In autocommit (``SqlStorage.reading()``) a driver error takes SQLAlchemy's path, which runs the statement
    again, translates the error and invalidates a broken connection; inside a transaction (which the error aborted)
    it is raised as SQLAlchemy's error, the connection invalidated if it broke. On SQLite, with no transaction begun,
    or with parameters the compiled statement does not name exactly, it runs through SQLAlchemy as usual.
    """

    def __init__(self, statement: sa.Select[Any] | sa.Insert | sa.Update) -> None:
        self.statement = statement
        self._compiled: dict[frozenset[str], _Compiled | None] = {}  # by the parameters' names, in any order
        _STATEMENTS.add(self)

    def prepare(self, dialect: sa.Dialect) -> None:
        """Compile now (a worker's warm-up) for the parameters the statement names itself: a select's or a write's
        bind parameters, every column of an insert built without values (``insert_new``'s). A call naming other
        parameters compiles its own on first use, as before."""
        self._for(dialect, frozenset(self.statement.compile(dialect=dialect).binds))

    def _for(self, dialect: sa.Dialect, names: frozenset[str]) -> _Compiled | None:
        if names not in self._compiled:
            compiled = self.statement.compile(dialect=dialect, column_keys=sorted(names))
            if set(compiled.binds) != names or compiled.escaped_bind_names:
                self._compiled[names] = None  # a literal or renamed parameter: SQLAlchemy's path fills it in
            else:
                binds = tuple(
                    (name, processor)
                    for name, bind in compiled.binds.items()
                    if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
                )
                columns = self.statement.exported_columns  # a select's columns, a write's RETURNING
                results = tuple(c.type.result_processor(dialect, None) for c in columns)
                self._compiled[names] = (str(compiled), binds, results)
        return self._compiled[names]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of the statement with ``params``, or None."""
        return self._run(conn, params, fetch=True)

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run a statement that returns no rows (nothing is fetched: in a psycopg pipeline it costs no sync)."""
        self._run(conn, params, fetch=False)

    def _run(self, conn: Connection, params: Mapping[str, Any], *, fetch: bool) -> tuple[Any, ...] | None:
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        compiled = None
        if conn.dialect.name == "postgresql" and (autocommit or conn.in_transaction()):
            compiled = self._for(conn.dialect, frozenset(params))
        if compiled is not None:
            sql, binds, results = compiled
            values = dict(params)
            for name, processor in binds:
                values[name] = processor(values[name])
            driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
            try:
                with driver.cursor() as cursor:
                    cursor.execute(sql, values)
                    found = cursor.fetchone() if fetch else None
            except psycopg.Error as error:
                if not autocommit:  # the transaction is aborted: no second try, SQLAlchemy's error as it raises it
                    if driver.broken:
                        conn.invalidate(error)
                    raise sa.exc.DBAPIError.instance(
                        sql, values, error, psycopg.Error, connection_invalidated=driver.broken
                    ) from error
                # autocommit: SQLAlchemy's path below, the same statement, with its error handling
            else:
                if found is None:
                    return None
                return tuple(v if p is None else p(v) for p, v in zip(results, found, strict=True))
        result = conn.execute(self.statement, dict(params))
        row = result.first() if fetch else None
        return None if row is None else tuple(row)


_STATEMENTS: weakref.WeakSet[DriverRead] = weakref.WeakSet()  # every one built: ``prepare_statements`` compiles them


def _insert(conn: Connection, table: sa.Table) -> Any:
    return _insert_on(conn.dialect.name, table)


def _insert_on(dialect: str, table: sa.Table) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


_INSERT_NEW: dict[tuple[str, sa.Table], DriverRead] = {}  # (dialect, table): the statement


def _insert_new_statement(dialect: str, table: sa.Table) -> DriverRead:
    built = _INSERT_NEW.get((dialect, table))
    if built is None:
        key = next(iter(table.primary_key.columns))
        statement = _insert_on(dialect, table).on_conflict_do_nothing().returning(key)
        built = _INSERT_NEW[(dialect, table)] = DriverRead(statement)
    return built


def prepare_statements(dialect: sa.Dialect, tables: Iterable[sa.Table]) -> int:
    """Compile every prebuilt statement (``DriverRead``) now, ``insert_new``'s for ``tables`` among them: a worker's
    warm-up, so that its first requests compile nothing (about 3 ms of CPU each, with the GIL held). Only on
    PostgreSQL, where they run on the driver; the number compiled."""
    if dialect.name != "postgresql":
        return 0
    for table in tables:
        if table.primary_key.columns:
            _insert_new_statement(dialect.name, table)
    prepared = 0
    for statement in list(_STATEMENTS):  # one by one: one that cannot be compiled now is compiled on first use
        try:
            statement.prepare(dialect)
        except Exception:
            log.debug("warm-up: a statement not compiled: %s", statement.statement, exc_info=True)
        else:
            prepared += 1
    return prepared


def insert_new(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> bool:
    """Insert unless a unique key is taken; True if the row went in (no error, so the transaction stays usable).

    The statement is built once per table and the values sent as parameters, on PostgreSQL on the driver itself
    (``DriverRead``: building it with ``values()`` and computing its cache key each time was about a sixth of an
    invoice creation's CPU, SQLAlchemy's execution layer much of the rest); a value that is a SQL expression still
    gets a statement of its own.
    """
    # RETURNING rather than rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT through SQLAlchemy.
    if any(isinstance(value, sa.ClauseElement) for value in values.values()):
        key = next(iter(table.primary_key.columns))
        statement = _insert(conn, table).values(**values).on_conflict_do_nothing().returning(key)
        return conn.execute(statement).first() is not None
    return _insert_new_statement(conn.dialect.name, table).first(conn, values) is not None


def increment(conn: Connection, table: sa.Table, key: Mapping[str, Any], column: str) -> int:
    """Add 1 to ``column`` of the row with ``key`` (created at 1 when missing) in one statement; the new value.
    Concurrent callers queue on the row's lock, so each gets its own value."""
    statement = _insert(conn, table).values(**key, **{column: 1})
    bumped = statement.on_conflict_do_update(index_elements=list(key), set_={column: table.c[column] + 1})
    return int(conn.execute(bumped.returning(table.c[column])).scalar_one())


def upsert(conn: Connection, table: sa.Table, values: Mapping[str, Any], key: list[str]) -> None:
    """Insert, or update every non-key column of the row with this key."""
    statement = _insert(conn, table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name not in key}
    conn.execute(statement.on_conflict_do_update(index_elements=key, set_=changes))


def update_or_insert(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> None:
    """Update the row with this ``id``, or insert it when there is none (a lost insert race changes nothing)."""
    if conn.execute(table.update().where(table.c.id == values["id"]).values(**values)).rowcount != 1:
        insert_new(conn, table, values)


def update_one(bind: Bind, table: sa.Table, where: Any, values: Mapping[str, Any], *, missing: str) -> None:
    """Set ``values`` on the one row of ``table`` that ``where`` picks; ``NotFound(missing)`` when there is none.

    >>> import tempfile, pathlib
    >>> from cryptopay.adapters.sql import make_engine, upgrade
    >>> from cryptopay.adapters.sql.tables_fx_chains import hot_keys
    >>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
    >>> _ = upgrade(url)
    >>> update_one(make_engine(url), hot_keys, hot_keys.c.key_id == "k1", {"blob": b"x"}, missing="no key k1")
    Traceback (most recent call last):
    cryptopay.core.errors.NotFound: no key k1
    """
    with writing(bind) as conn:
        if conn.execute(table.update().where(where).values(**values)).rowcount != 1:
            raise NotFound(missing)


def update_versioned(conn: Connection, table: sa.Table, key: Any, version: int, values: Mapping[str, Any]) -> bool:
    """Write ``values`` over row ``key`` of a table with a ``row_version`` column only if its version is still
    ``version`` (the one the caller read), ``values`` bumping it: True if written, False if there is no such row or
    another write came first (the caller tells which and raises its ``…Changed`` conflict). One compare-and-set
    statement: no lock is held between a read and its write, and a write from a stale read never lands over
    another (review11 R11-1, R11-3)."""
    where = (table.c.id == key, table.c.row_version == version)
    return bool(conn.execute(table.update().where(*where).values(**values)).rowcount == 1)


# pg_advisory_xact_lock(int, int): a namespace of each kind's own, then 32 bits of a text's SHA-256 (a user id, or a
# keyed hash, so a phone number or an address never reaches the server's lock table; two texts sharing the 32 bits only
# wait for each other).
_ADVISORY_LOCK = sa.text("SELECT pg_advisory_xact_lock(:space, :key)")


def lock_key(text: str) -> int:
    """A signed 32-bit advisory lock key for ``text``.

    >>> lock_key("254712345678") == lock_key("254712345678"), -(2**31) <= lock_key("x") < 2**31
    (True, True)
    """
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big", signed=True)


def advisory_locks(conn: Connection, space: int, *texts: str) -> None:
    """Transaction-level advisory locks in namespace ``space`` on the texts' keys (PostgreSQL only; released at
    commit or rollback), taken in ascending key order, each once, so two takers never wait for each other in a
    cycle. The caller checks the dialect: SQLite needs none (a writer's ``BEGIN IMMEDIATE`` serialises writers)."""
    for key in sorted({lock_key(text) for text in texts}):
        conn.execute(_ADVISORY_LOCK, {"space": space, "key": key})


def first_document(bind: Bind, query: sa.Select[Any], cls: type[T]) -> T | None:
    """The first row of ``query`` (a select of one JSON document column) read back as a ``cls``; None when none.

    >>> import tempfile, pathlib
    >>> from cryptopay.adapters.sql import make_engine, upgrade
    >>> from cryptopay.adapters.sql.tables_treasury import sweeps
    >>> from cryptopay.core.treasury.model import Sweep
    >>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
    >>> _ = upgrade(url)
    >>> first_document(make_engine(url), sa.select(sweeps.c.doc), Sweep) is None
    True
    """
    with reading(bind) as conn:
        doc = conn.scalars(query).first()
    return from_document(cls, doc) if doc is not None else None
