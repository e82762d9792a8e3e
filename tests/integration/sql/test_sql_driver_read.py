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
