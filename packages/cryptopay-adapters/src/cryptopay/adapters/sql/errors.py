"""Database errors in the SDK's terms: races become ``TransientConflict`` (the caller retries), safety nets
become the business refusal they stand for, an unreachable database becomes ``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from cryptopay.core.errors import (
    CryptopayError,
    InsufficientFunds,
    InvalidInput,
    TransientConflict,
    Unavailable,
    UnbalancedEntry,
)
from sqlalchemy import exc
from sqlalchemy.engine import Connection

__all__ = ["BALANCED_CONSTRAINT", "translate", "translating"]

BALANCED_CONSTRAINT = "ledger_entry_balanced"
_RETRYABLE = {"40001": "serialization failure", "40P01": "deadlock", "23505": "duplicate key", "55P03": "lock timeout"}
_RETRYABLE["26000"] = "prepared statement gone"  # the ledger's statements are prepared again on the retry


def _sqlstate(error: exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def _constraint(error: exc.DBAPIError) -> str:
    diag = getattr(error.orig, "diag", None)
    return (getattr(diag, "constraint_name", None) or "") if diag is not None else ""


def translate(error: exc.DBAPIError) -> CryptopayError:
    """The SDK error a database error stands for."""
    state, text = _sqlstate(error), str(error.orig)
    if state in _RETRYABLE:
        return TransientConflict(f"a concurrent writer won a race ({_RETRYABLE[state]}); retry")
    if BALANCED_CONSTRAINT in text or _constraint(error) == BALANCED_CONSTRAINT:
        return UnbalancedEntry("the database refused an entry whose postings do not sum to zero per asset")
    if "UNIQUE constraint failed" in text:
        return TransientConflict("a concurrent writer won a race (duplicate key); retry")
    if "database is locked" in text or "database table is locked" in text:
        return TransientConflict("the database is busy; retry")
    if state == "23514" or "CHECK constraint failed" in text:
        if "available" in (_constraint(error) + text):
            return InsufficientFunds("the database refused a balance that may not go negative")
        return InvalidInput(f"the database refused a value ({_constraint(error) or 'check constraint'})")
    if isinstance(error, exc.IntegrityError):
        return InvalidInput("the database refused the change (integrity constraint)")
    if isinstance(error, exc.OperationalError | exc.InterfaceError) or error.connection_invalidated:
        return Unavailable("the database is unavailable; retry later")
    return Unavailable(f"database error ({state or type(error.orig).__name__})")


@contextmanager
def translating() -> Iterator[None]:
    """Re-raise database errors as SDK errors (keeping the original as the cause)."""
    try:
        yield
    except exc.DBAPIError as error:
        raise translate(error) from error
    except psycopg.Error as error:  # raised by a psycopg pipeline's sync, outside SQLAlchemy
        raise translate(exc.DBAPIError(None, None, error)) from error


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, send the statements of the block and its COMMIT in one round trip (psycopg pipeline)."""
    if conn.dialect.name != "postgresql":
        yield
        return
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.pipeline():
            yield
    except BaseException:
        # A failed pipeline can leave the connection inside the aborted transaction: end it here, or the pool
        # would hand out a connection whose next statement fails with 25P02.
        with suppress(psycopg.Error):
            driver.rollback()
        raise
