"""``DriverRead``: a prebuilt select run on the psycopg connection in autocommit gives what SQLAlchemy gives, and
a driver error takes SQLAlchemy's path (its error, the broken connection invalidated, the next read served)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql.repositories._base import DriverRead
from cryptopay.adapters.sql.tables_payments import invoices
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.postgres

_BY_ID = sa.select(invoices.c.id, invoices.c.doc).where(invoices.c.id == sa.bindparam("row_id"))


def _invoice(engine: Engine, row_id: str, doc: dict[str, object]) -> None:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    row = {"id": row_id, "merchant_id": "mer_1", "state": "new", "expires_at": at, "monitoring_until": at}
    with engine.begin() as conn:
        conn.execute(invoices.insert().values(**row, unconfirmed=False, doc=doc))


def test_a_driver_read_returns_what_sqlalchemy_returns(pg_engine: Engine) -> None:
    doc = {"amount": "1500.00", "nested": {"list": [1, "2"]}, "text": "Ksh ü"}
    _invoice(pg_engine, "inv_1", doc)
    read = DriverRead(_BY_ID)
    with pg_engine.connect() as conn:
        reader = conn.execution_options(isolation_level="AUTOCOMMIT")
        through_sqlalchemy = tuple(reader.execute(_BY_ID, {"row_id": "inv_1"}).one())
        assert read.first(reader, {"row_id": "inv_1"}) == through_sqlalchemy == ("inv_1", doc)
        assert read.first(reader, {"row_id": "inv_missing"}) is None
    with pg_engine.begin() as conn:  # in a transaction: SQLAlchemy's own path, the same answer
        assert read.first(conn, {"row_id": "inv_1"}) == ("inv_1", doc)


def test_a_driver_error_takes_sqlalchemys_path_and_the_pool_recovers(pg_engine: Engine) -> None:
    _invoice(pg_engine, "inv_1", {"a": "1"})
    read = DriverRead(_BY_ID)
    with pg_engine.connect() as conn:
        reader = conn.execution_options(isolation_level="AUTOCOMMIT")
        pid = reader.connection.driver_connection.info.backend_pid
        with pg_engine.connect() as killer:
            killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError):
            read.first(reader, {"row_id": "inv_1"})
        assert reader.invalidated
    with pg_engine.connect() as conn:  # the broken connection did not go back to the pool
        reader = conn.execution_options(isolation_level="AUTOCOMMIT")
        assert read.first(reader, {"row_id": "inv_1"}) == ("inv_1", {"a": "1"})


def test_a_write_in_a_transaction_runs_on_the_driver_and_its_error_is_sqlalchemys(pg_engine: Engine) -> None:
    """In a transaction (a unit of work's inserts and updates) the statement runs on the driver too, its bound
    values processed as SQLAlchemy would (a JSON document, an aware datetime); a driver error there, where the
    transaction is aborted and no second try is possible, is raised as SQLAlchemy's error, which ``translating``
    turns into the SDK's, and the transaction rolls back."""
    at = datetime(2026, 12, 6, tzinfo=UTC)
    row = {"id": "inv_w", "merchant_id": "mer_1", "state": "new", "expires_at": at, "monitoring_until": at}
    add = DriverRead(invoices.insert().returning(invoices.c.id))
    statements: list[str] = []
    sa.event.listen(pg_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with pg_engine.begin() as conn:
        assert add.first(conn, {**row, "unconfirmed": False, "doc": {"amount": "1.5", "l": [1]}}) == ("inv_w",)
    assert statements == []  # not through SQLAlchemy's execution layer
    with pg_engine.connect() as conn:
        assert conn.execute(_BY_ID, {"row_id": "inv_w"}).one() == ("inv_w", {"amount": "1.5", "l": [1]})
    with pytest.raises(sa.exc.IntegrityError), pg_engine.begin() as conn:
        add.first(conn, {**row, "id": "inv_x", "unconfirmed": False, "doc": {}})
        add.first(conn, {**row, "unconfirmed": False, "doc": {}})  # the same id again: a unique violation
    with pg_engine.connect() as conn:  # rolled back: the first insert of that transaction is gone too
        assert conn.execute(_BY_ID, {"row_id": "inv_x"}).first() is None


def test_a_broken_connection_in_a_transaction_is_invalidated(pg_engine: Engine) -> None:
    add = DriverRead(invoices.insert().returning(invoices.c.id))
    at = datetime(2026, 12, 6, tzinfo=UTC)
    row = {"id": "inv_b", "merchant_id": "mer_1", "state": "new", "expires_at": at, "monitoring_until": at}
    with pytest.raises(sa.exc.OperationalError), pg_engine.connect() as conn:
        pid = conn.connection.driver_connection.info.backend_pid
        with conn.begin():
            with pg_engine.connect() as killer:
                killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            try:
                add.first(conn, {**row, "unconfirmed": False, "doc": {}})
            finally:
                assert conn.invalidated
    with pg_engine.begin() as conn:  # the pool hands out a working connection
        assert add.first(conn, {**row, "unconfirmed": False, "doc": {}}) == ("inv_b",)
