"""``SqlStorage(pinned_readers=N, pinned_writers=M)``: on PostgreSQL each of up to N threads keeps one autocommit
connection for its ``reading()`` blocks, and each of up to M threads one connection for its units of work. A read
still sees every write committed before it, a unit of work every commit before it and nothing of a failed one, the
connections stay bounded, go back to the pool when their thread ends or the storage closes, one left in doubt is
discarded, and a killed backend costs one failed read or unit at most."""

from __future__ import annotations

import gc
import os
import threading
from contextlib import suppress
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql import prepared
from cryptopay.adapters.sql.tables_payments import deposit_address_counters, deposit_addresses, invoices
from cryptopay.adapters.sql.uow import SqlStorage, SqlUnitOfWork
from cryptopay.core.errors import CryptopayError, Unavailable
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import SequentialDeriver
from sqlalchemy.engine import Engine

from tests.contract.test_payments_repository_contract import SqlPaymentsStack

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


@pytest.mark.parametrize("kind", ["readers", "writers"])
def test_pinned_connections_are_bounded_and_go_back_when_their_thread_ends(pg_engine: Engine, kind: str) -> None:
    storage = SqlStorage(pg_engine, **{f"pinned_{kind}": 2})  # type: ignore[arg-type]
    _put(pg_engine, "inv_1", "new")
    barrier, backends = threading.Barrier(4), []

    def use() -> int:
        return _read(storage, "inv_1")[0] if kind == "readers" else _write(storage, "inv_1", "paid")

    def thread_body() -> None:
        backends.append(use())
        barrier.wait(timeout=10)  # all four threads alive at once: two pinned, two on pooled connections
        backends.append(use())

    threads = [threading.Thread(target=thread_body) for _ in range(4)]
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


# -- pinned writers: ``SqlStorage(pinned_writers=N)`` keeps one connection per thread for its units of work


def _write(storage: SqlStorage, row_id: str, state: str, *, fail: bool = False) -> int:
    """Update the invoice in a unit of work (raising inside it when ``fail``); the backend that ran it."""
    with storage.unit_of_work() as uow:
        conn = uow.connection
        backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        conn.execute(invoices.update().where(invoices.c.id == row_id).values(state=state, doc={"s": state}))
        if fail:
            raise RuntimeError("the use case failed")
    return backend


def _doc(engine: Engine, row_id: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.select(invoices.c.doc).where(invoices.c.id == row_id)).scalar_one()


def test_a_thread_writes_on_one_connection_and_a_failed_unit_leaves_nothing_behind(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_writers=2)
    _put(pg_engine, "inv_1", "new")
    first = _write(storage, "inv_1", "paid")
    assert _doc(pg_engine, "inv_1") == {"s": "paid"}  # committed, seen by another connection
    with pytest.raises(RuntimeError):
        _write(storage, "inv_1", "expired", fail=True)
    assert _doc(pg_engine, "inv_1") == {"s": "paid"}  # rolled back
    _put(pg_engine, "inv_1", "settled")  # committed elsewhere between two units: the next one sees it
    with storage.unit_of_work() as uow:
        doc = uow.connection.execute(sa.select(invoices.c.doc).where(invoices.c.id == "inv_1")).scalar_one()
        assert doc == {"s": "settled"}
        with storage.unit_of_work() as inner:  # nested: the inner unit takes a pooled connection
            assert inner.connection is not uow.connection
    assert _write(storage, "inv_1", "paid") == first  # the same backend throughout, kept after the failure
    assert _checked_out(pg_engine) == 1
    storage.close()
    assert _checked_out(pg_engine) == 0


def test_a_connection_left_in_a_transaction_is_not_pinned_again(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_writers=1)
    _put(pg_engine, "inv_1", "new")
    first = _write(storage, "inv_1", "paid")
    with storage.unit_of_work() as uow:  # the driver's own transaction, left open behind SQLAlchemy's back
        driver = uow.connection.connection.driver_connection
        assert driver is not None
        driver.autocommit = True
        uow._owned = None  # as if release could not put it back in its usual mode
    again = _write(storage, "inv_1", "expired")
    assert again != first  # dropped: the next unit pinned another connection
    assert _doc(pg_engine, "inv_1") == {"s": "expired"}
    storage.close()
    assert _checked_out(pg_engine) == 0


def test_a_killed_backend_costs_at_most_one_unit_of_work(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_writers=1)
    _put(pg_engine, "inv_1", "new")
    backend = _write(storage, "inv_1", "paid")
    with pg_engine.connect() as killer:
        killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    with suppress(CryptopayError):  # the unit that met the dead backend fails (as it did on a pooled connection)
        _write(storage, "inv_1", "expired")
    again = _write(storage, "inv_1", "settled")
    assert again != backend
    assert _doc(pg_engine, "inv_1") == {"s": "settled"}
    storage.close()
    assert _checked_out(pg_engine) == 0


def test_a_forked_child_writes_on_its_own_connection(pg_engine: Engine) -> None:
    storage = SqlStorage(pg_engine, pinned_writers=1)
    _put(pg_engine, "inv_1", "new")
    parent_backend = _write(storage, "inv_1", "paid")
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        code = 1
        try:
            backend = _write(storage, "inv_1", "expired")
            storage.close()
            del storage
            gc.collect()
            code = 0 if backend != parent_backend else 2
        finally:
            os.write(writing, bytes([code]))
            os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    assert os.read(reading, 1) == b"\x00"
    os.close(reading)
    assert _doc(pg_engine, "inv_1") == {"s": "expired"}
    assert _write(storage, "inv_1", "settled") == parent_backend  # the child never closed the parent's session
    storage.close()


# -- a reconnected pinned reader: autocommit for its whole life (a database restart once stopped invoice creation)


def _kill_sessions(engine: Engine) -> int:
    """Terminate every other session on the test's database, as a PostgreSQL restart does: how many."""
    with engine.connect() as killer:
        killed = killer.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return int(killed)


def _counter(engine: Engine, network: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(deposit_address_counters.c.next_index).where(deposit_address_counters.c.network == network)
            ).scalar_one()
        )


def test_a_reader_reconnected_after_its_backend_died_is_still_in_autocommit(pg_engine: Engine) -> None:
    """The pinned reader's reconnection is a new session: it is in autocommit like the first one (no transaction
    left open by a read, every statement committed on its own: the index a reader takes is never rolled back)."""
    storage = SqlStorage(pg_engine, pinned_readers=1)
    _put(pg_engine, "inv_1", "new")
    with storage.reading() as uow:
        assert uow.deposit_addresses.allocate_shared_index(["tron"]) == 0
    backend, _ = _read(storage, "inv_1")
    _kill_sessions(pg_engine)
    with suppress(CryptopayError):  # the read that met the dead backend may fail
        _read(storage, "inv_1")
    for expected in (1, 2):
        with storage.reading() as uow:
            again = int(uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            driver = uow.connection.connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            assert driver.autocommit
            assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # no BEGIN was sent
            assert uow.deposit_addresses.allocate_shared_index(["tron"]) == expected
            # its lazy commit was for that statement only: the session's next ones wait for the disk again
            assert uow.connection.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
        assert again != backend
        assert _counter(pg_engine, "tron") == expected + 1  # committed: seen by another session
    storage.close()
    assert _checked_out(pg_engine) == 0


def test_invoices_are_created_with_fresh_indexes_after_the_database_dropped_every_session(pg_engine: Engine) -> None:
    """`make chaos`'s db_restart: after PostgreSQL dropped every session, invoice creation answered 409 forever (the
    index taken through the reconnected reader was rolled back, the address stored at it was not). One creation may
    fail on a dead session; the next ones succeed, each at an index of its own, and the counter stays past them."""
    stack = SqlPaymentsStack(SqlStorage(pg_engine, pinned_readers=1, pinned_writers=1))
    stack.add_merchant(
        "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    )
    storage = stack.storage
    stack.invoicing = Invoicing(
        uow=storage.unit_of_work,
        clock=stack.clock,
        ids=stack.ids,
        ledger=stack.ledger,
        pricer=stack.pricer,
        derivers={"tron": SequentialDeriver("tron")},
        reader=storage.reading,  # as the composition root wires it
    )
    first = stack.invoicing.create_invoice("m1", Money.of("10", USDT))
    assert _kill_sessions(pg_engine) >= 2  # the pinned reader and writer at least
    made = [first]
    for _ in range(6):
        with suppress(Unavailable):  # a creation that met a dead session (at most one per pinned connection)
            made.append(stack.invoicing.create_invoice("m1", Money.of("10", USDT)))
    assert len(made) >= 5
    with pg_engine.connect() as conn:
        ids = [invoice.id for invoice in made]
        found = conn.execute(sa.select(deposit_addresses.c.index).where(deposit_addresses.c.invoice_id.in_(ids)))
        indexes = [int(index) for index in found.scalars()]
    assert len(indexes) == len(set(indexes)) == len(made)
    assert _counter(pg_engine, "tron") > max(indexes)
    storage.close()


def test_an_index_is_never_taken_on_a_reader_reconnected_in_its_block(pg_engine: Engine) -> None:
    """A reading block whose connection broke and would reconnect in the block (out of autocommit, its writes rolled
    back at the block's end) refuses to take an index there: the retry, in a fresh block, takes it for good."""
    storage = SqlStorage(pg_engine, pinned_readers=1)
    with storage.reading() as uow:
        assert uow.deposit_addresses.allocate_shared_index(["tron"]) == 0
    attempts: list[int] = []

    def take(uow: SqlUnitOfWork) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            uow.connection.invalidate()  # as a statement meeting a dead session does
        return uow.deposit_addresses.allocate_shared_index(["tron"])

    assert in_transaction(storage.reading, take) == 1
    assert len(attempts) == 2
    assert _counter(pg_engine, "tron") == 2  # committed
    with storage.reading() as uow:
        assert uow.deposit_addresses.allocate_shared_index(["tron"]) == 2
    assert _counter(pg_engine, "tron") == 3
    storage.close()
    assert _checked_out(pg_engine) == 0


_WHO = prepared.Statement("cryptopay_test_who", "SELECT pg_backend_pid() + %(n)s AS pid", (("n", "int"),))


def _prepared_unit(storage: SqlStorage) -> int:
    """A unit of work the driver owns, its statement prepared on the connection (as the P2P send's): the backend."""
    with storage.unit_of_work() as uow:
        rows = uow.begin_prepared((_WHO, {"n": 0}))
        assert rows is not None
        return int(rows[0]["pid"])


def test_a_writer_pinned_again_after_its_session_died_prepares_its_statements_anew(pg_engine: Engine) -> None:
    """What a pinned writer's session held (its prepared statements, its mode) is not assumed of the next session:
    after every session was dropped, one unit may fail; the next ones prepare their statements again, on another
    backend, in a connection back in its usual mode (no autocommit) between units."""
    storage = SqlStorage(pg_engine, pinned_writers=1)
    first = _prepared_unit(storage)
    assert _prepared_unit(storage) == first  # prepared once, called again on the same session
    _kill_sessions(pg_engine)
    with suppress(CryptopayError):
        _prepared_unit(storage)
    again = _prepared_unit(storage)
    assert again != first
    assert _prepared_unit(storage) == again
    with storage.unit_of_work() as uow:
        driver = uow.connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection) and not driver.autocommit
        held = uow.connection.exec_driver_sql("SELECT name FROM pg_prepared_statements").scalars().all()
        assert "cryptopay_test_who" in held
    storage.close()
    assert _checked_out(pg_engine) == 0
