"""The invoice feed on a real PostgreSQL: a change written by another process (plain SQL, as an operator would) is
read once its notice arrives; a database without migration 0036's trigger is never trusted."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.invoice_feed import ListenedInvoiceReads, conninfo_of
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.invoices import Invoice
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.read_cache import RenderedInvoice
from cryptopay.core.rails import rail_for
from sqlalchemy.engine import Engine

from tests.support.sql_backends import postgres_database

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _store(engine: Engine, invoice_id: str) -> SqlStorage:
    storage = SqlStorage(engine)
    invoice, _ = Invoice.create(
        invoice_id=invoice_id,
        merchant_id="m1",
        price=Money.of(100, USDT),
        addresses={rail_for("ethereum", "USDT"): "0x00000000000000000000000000000000000000aa"},
        now=NOW,
    )
    with storage.unit_of_work() as uow:
        uow.invoices.add(invoice)
    return storage


def _reader(storage: SqlStorage, invoice_id: str, renders: list[str]) -> Callable[[], RenderedInvoice]:
    def render() -> RenderedInvoice:
        with storage.reading() as uow:
            invoice = uow.invoices.get(invoice_id)
        assert invoice is not None
        renders.append(invoice.state.value)
        return RenderedInvoice(invoice.merchant_id, invoice.state.value.encode())

    return render


def _kept(reads: ListenedInvoiceReads, render: Callable[[], RenderedInvoice]) -> Callable[[], bool]:
    """Read once; whether a read was ever served from what the process kept."""

    def read() -> bool:
        reads.read("inv_1", render)
        return reads.stats().hits > 0

    return read


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"not within 10 s: {what}"
        time.sleep(0.01)


def test_a_change_written_by_another_process_is_read_once_announced(pg_engine: Engine) -> None:
    """Another process sets the invoice's state with plain SQL; this process's kept read gives way at the notice."""
    storage = _store(pg_engine, "inv_1")
    reads = ListenedInvoiceReads(conninfo_of(pg_engine), heartbeat=0.2)
    renders: list[str] = []
    render = _reader(storage, "inv_1", renders)
    try:
        _until(_kept(reads, render), "a read kept")
        before = reads.stats().announcements
        script = (
            "import psycopg, sys\n"
            "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
            "    conn.execute(\"UPDATE invoices SET doc = jsonb_set(doc::jsonb, '{state}', '\\\"invalid\\\"')::text"
            " WHERE id = 'inv_1'\")\n"
        )
        subprocess.run([sys.executable, "-c", script, conninfo_of(pg_engine)], check=True, timeout=120)
        _until(lambda: reads.stats().announcements > before, "the other process's change announced")
        assert [reads.read("inv_1", render).body for _ in range(3)] == [b"invalid"] * 3
        assert renders[-1] == "invalid" and renders.count("invalid") == 1
    finally:
        reads.close()


def test_without_migration_0036_nothing_is_kept(postgres_admin_url: str) -> None:
    """Code deployed before its migration: invoice changes are not announced, so every read renders; once the
    database is upgraded, the feed follows and reads are kept. (The database is at the head, with 0036's update
    trigger renamed away and then back: later migrations change ``invoices``, so today's code cannot run on a
    database stopped before 0036; what the feed looks for is that trigger.)"""
    with postgres_database(postgres_admin_url, "cryptopay_no0036") as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TRIGGER invoices_changed ON invoices RENAME TO invoices_changed_later")
        reads = ListenedInvoiceReads(conninfo_of(engine), heartbeat=0.05)
        try:
            storage = _store(engine, "inv_1")
            renders: list[str] = []
            render = _reader(storage, "inv_1", renders)
            for _ in range(20):
                reads.read("inv_1", render)
                time.sleep(0.02)
            assert len(renders) == 20 and reads.stats().hits == 0
            with engine.begin() as conn:  # the upgrade
                conn.exec_driver_sql(_TRIGGER_BACK)
            _until(_kept(reads, render), "reads kept once upgraded")
        finally:
            reads.close()
            with engine.begin() as conn:  # the database goes back to the next test as the template is
                conn.exec_driver_sql(_TRIGGER_BACK)
            engine.dispose()


_TRIGGER_BACK = """DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'invoices_changed_later') THEN
    ALTER TRIGGER invoices_changed_later ON invoices RENAME TO invoices_changed;
  END IF;
END $$"""
