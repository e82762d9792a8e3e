"""``InvoiceReads``: kept renderings never outlive an announced change; the fake and the PostgreSQL feed alike.

On PostgreSQL the changes are committed by the storage's own connections while the feed listens on its own, as
another process would write (the trigger of migration 0036 and ``ListenedInvoiceReads``). SQLite keeps nothing
(``UncachedInvoiceReads``), so it has no variant here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import attrs
import pytest
from cryptopay.adapters.sql.invoice_feed import FEED_APPLICATION, ListenedInvoiceReads, conninfo_of
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import NotFound
from cryptopay.core.invoices import Invoice
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.read_cache import RenderedInvoice
from cryptopay.core.ports.payments import InvoiceReads, PaymentsUowFactory
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.payments import AnnouncedInvoiceReads, payments_storage
from sqlalchemy.engine import Engine

from tests.support.sql_backends import empty_postgres
from tests.support.threads import joined

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEADLINE = 10.0  # seconds a feed may take to deliver or reconnect on a loaded machine (not a performance bound)


@attrs.define
class Feed:
    """One backend's ``InvoiceReads`` and what the tests do around it."""

    reads: InvoiceReads
    uow: PaymentsUowFactory  # the backend's units of work (on PostgreSQL, connections of their own)
    announce: Callable[[str], None]  # what the backend's feed does at a commit (PostgreSQL: nothing, it is real)
    cut: Callable[[], None]  # the feed's connection is lost
    restore: Callable[[], None]  # ... and comes back (PostgreSQL: it reconnects by itself)
    renders: list[str] = attrs.Factory(list)

    def add(self, invoice_id: str) -> None:
        invoice, _ = Invoice.create(
            invoice_id=invoice_id,
            merchant_id="m1",
            price=Money.of(100, USDT),
            addresses={rail_for("ethereum", "USDT"): f"0x{invoice_id.encode().hex():0>40}"},
            now=NOW,
        )
        with self.uow() as uow:
            uow.invoices.add(invoice)

    def cancel(self, invoice_id: str, *, heard: bool = True) -> None:
        """Cancel the invoice in a committed transaction of its own, and wait until the feed announced it."""
        before = self.reads.stats().announcements
        self.commit_cancel(invoice_id)
        self.announce(invoice_id)
        if heard:
            _until(lambda: self.reads.stats().announcements > before, "the change announced")

    def commit_cancel(self, invoice_id: str) -> None:
        with self.uow() as uow:
            invoice = uow.invoices.get(invoice_id)
            assert invoice is not None
            invoice.cancel(by="test", now=NOW)
            uow.invoices.update(invoice)

    def render(self, invoice_id: str) -> RenderedInvoice:
        """The invoice's state, loaded from the storage (what the API renders, reduced to what changes)."""
        self.renders.append(invoice_id)
        with self.uow() as uow:
            invoice = uow.invoices.get(invoice_id)
        if invoice is None:
            raise NotFound(f"no invoice {invoice_id}")
        return RenderedInvoice(invoice.merchant_id, invoice.state.value.encode())

    def read(self, invoice_id: str) -> str:
        return self.reads.read(invoice_id, lambda: self.render(invoice_id)).body.decode()

    def following(self) -> None:
        """Wait until reads are kept again (a fresh invoice read twice renders once)."""

        def kept() -> bool:
            self.reads.changed("inv_probe")
            self.renders.clear()
            self.read("inv_probe")
            self.read("inv_probe")
            return len(self.renders) == 1

        _until(kept, "the feed following", lambda: self.reads.stats())


def _until(condition: Callable[[], bool], what: str, state: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {what} {state()}")
        time.sleep(0.01)


def _memory(max_entries: int) -> Feed:
    reads = AnnouncedInvoiceReads(max_entries=max_entries)
    return Feed(reads, payments_storage().unit_of_work, reads.announce, reads.cut, reads.restore)


def _postgres(engine: Engine, max_entries: int) -> Iterator[Feed]:
    empty_postgres(engine)
    reads = ListenedInvoiceReads(conninfo_of(engine), max_entries=max_entries, heartbeat=0.2)

    def cut() -> None:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE application_name = '{FEED_APPLICATION}' AND datname = current_database()"
            ).fetchall()
        assert found, "no feed connection to cut"
        # Lost means the listener saw its connection end (it forgets every kept read): until then a change is not
        # "committed while the feed was lost" but within the silence the cache trusts (max_silence).
        _until(lambda: reads.stats().entries == 0, "the feed lost", lambda: reads.stats())

    feed = Feed(reads, SqlStorage(engine).unit_of_work, lambda _id: None, cut, lambda: None)
    feed.add("inv_probe")
    feed.following()
    yield feed
    reads.close()


@pytest.fixture(params=["memory", "postgres"])
def make_feed(request: pytest.FixtureRequest) -> Iterator[Callable[..., Feed]]:
    made: list[Iterator[Feed]] = []

    def make(max_entries: int = 100) -> Feed:
        if request.param == "memory":
            feed = _memory(max_entries)
            feed.add("inv_probe")
            return feed
        steps = _postgres(request.getfixturevalue("contract_pg_engine"), max_entries)
        made.append(steps)
        return next(steps)

    yield make
    for steps in made:
        next(steps, None)


@pytest.fixture
def feed(make_feed: Callable[..., Feed]) -> Feed:
    return make_feed()


def test_a_repeated_read_renders_once(feed: Feed) -> None:
    """An unchanged invoice is rendered once however often it is read."""
    feed.add("inv_1")
    feed.renders.clear()
    assert [feed.read("inv_1") for _ in range(3)] == ["new"] * 3
    assert feed.renders == ["inv_1"]
    assert feed.reads.stats().hits >= 2


def test_a_change_committed_elsewhere_is_read_once_announced(feed: Feed) -> None:
    """A change committed by another connection is read as soon as it is announced, and never the old one after."""
    feed.add("inv_1")
    assert feed.read("inv_1") == "new"
    feed.cancel("inv_1")
    assert [feed.read("inv_1") for _ in range(3)] == ["cancelled"] * 3


def test_a_change_this_process_made_is_read_at_once(feed: Feed) -> None:
    """``changed``: this process's own commit is read by its next read, before any announcement."""
    feed.add("inv_1")
    assert feed.read("inv_1") == "new"
    feed.commit_cancel("inv_1")  # on the in-memory feed nothing is announced: only ``changed`` can evict
    feed.reads.changed("inv_1")
    assert feed.read("inv_1") == "cancelled"


def test_a_rendering_that_raced_a_change_is_served_once_and_not_kept(feed: Feed) -> None:
    """A rendering that read the row before a change committed and was announced is not kept: the next read
    renders the change."""
    feed.add("inv_1")
    old = feed.render("inv_1")

    def racing() -> RenderedInvoice:
        feed.cancel("inv_1")  # committed and announced while this rendering, which read the old row, is in flight
        return old

    assert feed.reads.read("inv_1", racing).body == b"new"
    assert feed.read("inv_1") == "cancelled"
    assert feed.read("inv_1") == "cancelled"


def test_concurrent_readers_never_see_an_announced_change_undone(feed: Feed) -> None:
    """Readers in several threads while the invoice is cancelled: once the announcement is in, all read it."""
    feed.add("inv_1")
    stop, seen_after = threading.Event(), list[str]()
    announced = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            was_announced = announced.is_set()
            state = feed.read("inv_1")
            if was_announced:
                seen_after.append(state)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    feed.cancel("inv_1")
    announced.set()
    time.sleep(0.1)
    stop.set()
    joined(*threads)
    assert seen_after and set(seen_after) == {"cancelled"}


def test_a_missing_invoice_is_never_kept(feed: Feed) -> None:
    """``NotFound`` passes through and nothing is kept: the invoice, once stored, is read."""
    for _ in range(2):
        with pytest.raises(NotFound):
            feed.read("inv_later")
    feed.add("inv_later")
    assert feed.read("inv_later") == "new"


def test_a_lost_feed_forgets_everything_and_renders_until_it_follows_again(feed: Feed) -> None:
    """While the feed is lost every read renders (nothing kept could be trusted); once back, reads are kept."""
    feed.add("inv_1")
    feed.read("inv_1")
    bypassed = feed.reads.stats().bypassed
    feed.cut()

    def rendered_while_lost() -> bool:
        feed.read("inv_1")
        return feed.reads.stats().bypassed > bypassed

    _until(rendered_while_lost, "a read rendered while lost")
    feed.restore()
    feed.following()
    feed.renders.clear()
    feed.read("inv_1")
    feed.read("inv_1")
    assert feed.renders == ["inv_1"]


def test_a_change_committed_while_the_feed_was_lost_is_read_once_it_follows_again(feed: Feed) -> None:
    """What the feed missed while it was lost is never hidden by what was kept before."""
    feed.add("inv_1")
    feed.read("inv_1")
    feed.read("inv_1")
    feed.cut()
    feed.cancel("inv_1", heard=False)
    feed.restore()
    feed.following()
    assert [feed.read("inv_1") for _ in range(2)] == ["cancelled"] * 2


def test_at_most_max_entries_are_kept(make_feed: Callable[..., Feed]) -> None:
    """The least recently read invoice goes first when more are read than are kept."""
    feed = make_feed(max_entries=2)
    for invoice_id in ("inv_1", "inv_2", "inv_3"):
        feed.add(invoice_id)
    feed.renders.clear()
    for invoice_id in ("inv_1", "inv_2", "inv_1", "inv_3", "inv_1", "inv_2"):
        feed.read(invoice_id)
    assert feed.renders == ["inv_1", "inv_2", "inv_3", "inv_2"]
    assert feed.reads.stats().entries == 2
