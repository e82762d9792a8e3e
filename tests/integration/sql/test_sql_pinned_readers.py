"""``SqlStorage(pinned_readers=N)``: on PostgreSQL each of up to N threads keeps one autocommit connection for its
``reading()`` blocks. A read still sees every write committed before it, the connections stay bounded, go back to
the pool when their thread ends or the storage closes, and a killed backend costs one failed read at most."""

from __future__ import annotations

import gc
import os
import threading
from contextlib import suppress
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql.tables_payments import invoices
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import CryptopayError
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.postgres

_AT = datetime(2026, 12, 6, tzinfo=UTC)


def _put(engine: Engine, row_id: str, state: str) -> None:
    row = {"merchant_id": "mer_1", "state": state, "expires_at": _AT, "monitoring_until": _AT, "unconfirmed": False}
    with engine.begin() as conn:
        updated = conn.execute(invoices.update().where(invoices.c.id == row_id).values(**row, doc={"s": state}))
        if updated.rowcount == 0:
            conn.execute(invoices.insert().values(id=row_id, **row, doc={"s": state}))


def _read(storage: SqlStorage, row_id: str) -> tuple[int, object]:
    """(the backend serving the read, the document read)."""
    with storage.reading() as uow:
        conn = uow.connection
        backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        doc = conn.execute(sa.select(invoices.c.doc).where(invoices.c.id == row_id)).scalar_one()
        return int(backend), doc


def _checked_out(engine: Engine) -> int:
    return engine.pool.checkedout()  # type: ignore[attr-defined]


def test_a_thread_reads_on_one_connection_and_sees_each_committed_write(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_readers=2)
    _put(pg_engine, "inv_1", "new")
    first, doc = _read(storage, "inv_1")
    assert doc == {"s": "new"}
    _put(pg_engine, "inv_1", "paid")  # committed by another connection between two reads
    second, doc = _read(storage, "inv_1")
    assert (second, doc) == (first, {"s": "paid"})  # the same backend, no stale snapshot
    with storage.reading() as outer, storage.reading() as inner:  # nested: the inner block takes a pooled one
        assert inner.connection is not outer.connection
    assert _checked_out(pg_engine) == 1
    storage.close()
    assert _checked_out(pg_engine) == 0


def test_pinned_connections_are_bounded_and_go_back_when_their_thread_ends(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_readers=2)
    _put(pg_engine, "inv_1", "new")
    barrier, backends = threading.Barrier(4), []

    def reader() -> None:
        backends.append(_read(storage, "inv_1")[0])
        barrier.wait(timeout=10)  # all four threads alive at once: two pinned, two on pooled connections
        backends.append(_read(storage, "inv_1")[0])

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(backends) == 8
    assert _checked_out(pg_engine) <= 2
    del threads, thread
    gc.collect()  # the ended threads' objects are gone: their connections were returned
    assert _checked_out(pg_engine) == 0
    storage.close()


def test_a_killed_backend_costs_at_most_one_read(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_readers=1)
    _put(pg_engine, "inv_1", "new")
    backend, _ = _read(storage, "inv_1")
    with pg_engine.connect() as killer:
        killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    with suppress(CryptopayError):  # the read that met the dead backend may fail (as it did on a pooled connection)
        _read(storage, "inv_1")
    again, doc = _read(storage, "inv_1")
    assert again != backend
    assert doc == {"s": "new"}
    storage.close()
    assert _checked_out(pg_engine) == 0


def test_a_zero_limit_pins_nothing(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine)  # pinned_readers=0: a pooled connection per block, as before
    _put(pg_engine, "inv_1", "new")
    _read(storage, "inv_1")
    assert _checked_out(pg_engine) == 0


def test_a_forked_child_pins_its_own_and_leaves_the_parents_session_alone(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_readers=2)
    _put(pg_engine, "inv_1", "new")
    parent_backend, _ = _read(storage, "inv_1")
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: read on a connection of its own, close the storage, drop everything, exit
        code = 1
        try:
            backend, doc = _read(storage, "inv_1")
            storage.close()
            del storage
            gc.collect()
            code = 0 if backend != parent_backend and doc == {"s": "new"} else 2
        finally:
            os.write(writing, bytes([code]))
            os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    assert os.read(reading, 1) == b"\x00"
    os.close(reading)
    assert _read(storage, "inv_1")[0] == parent_backend  # the parent's session was never closed by the child
    storage.close()
