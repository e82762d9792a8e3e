"""Invoice reads kept per API process on PostgreSQL, told of every committed change by ``LISTEN``/``NOTIFY``.

Migration 0036 puts a trigger on ``invoices``: every update or delete of a row notifies ``cryptopay_invoices``
with the invoice id (a truncation with ``''``: anything may have changed), in the writer's own transaction, so
PostgreSQL delivers it when, and only if, that transaction commits, and in commit order. Whoever writes (an API
process, the worker's detection, an operator's SQL) is covered; an insert needs no word, since a missing invoice
is never kept.

``ListenedInvoiceReads`` is the ``InvoiceReads`` port over ``cryptopay.core.payments.read_cache``: a daemon
thread of the process (started on the first read, again in a forked child) holds one dedicated autocommit
connection, ``LISTEN``-s, then tells the cache it ``follow``-s, announces each notification, and runs ``SELECT 1``
every ``heartbeat`` seconds (``alive``). When the connection fails it tells the cache it lost the feed (the cache
forgets everything and renders every read) and reconnects after ``heartbeat``; a thread stuck on a dead socket
says nothing, and after ``max_silence`` the cache stops trusting itself too. The connection carries
``application_name=cryptopay-invoice-feed`` (so an operator can see it in ``pg_stat_activity``) and TCP keepalives.
A database without the trigger (code deployed before ``cryptopay db upgrade`` ran) is never followed: reads render,
and the feed looks again every minute.

``PgNotificationQueue`` is the ``NotificationQueue`` port: ``pg_notification_queue_usage()``, the fraction of the
server's notification queue that a listener has not read yet, which the worker's business gauges export.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import psycopg
import sqlalchemy as sa
from cryptopay.core.payments.read_cache import InvoiceReadCache, InvoiceReadStats, RenderedInvoice
from sqlalchemy.engine import Engine

__all__ = ["CHANNEL", "FEED_APPLICATION", "ListenedInvoiceReads", "PgNotificationQueue", "conninfo_of"]

CHANNEL = "cryptopay_invoices"
FEED_APPLICATION = "cryptopay-invoice-feed"

_log = logging.getLogger(__name__)
_QUEUE_USAGE = sa.text("SELECT pg_notification_queue_usage()")
_ANNOUNCING = "SELECT 1 FROM pg_trigger WHERE tgname = 'invoices_changed' AND tgrelid = 'invoices'::regclass"


class _NotAnnounced(Exception):
    """The database does not announce invoice changes (migration 0036 not applied yet): keeping reads is unsafe."""


def conninfo_of(engine: Engine) -> str:
    """The libpq URL of a PostgreSQL ``engine`` (its password included), for a connection outside its pool."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class PgNotificationQueue:
    """``NotificationQueue`` on PostgreSQL: how full the server's ``NOTIFY`` queue is, 0 to 1 (one query)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def usage(self) -> float:
        with self._engine.connect() as conn:
            return float(conn.execute(_QUEUE_USAGE).scalar_one())  # a gauge's ratio, not an amount


class ListenedInvoiceReads:
    """``InvoiceReads`` on PostgreSQL: at most ``max_entries`` renderings, evicted by the notifications of
    ``CHANNEL`` on a connection to ``conninfo`` (see the module docstring)."""

    def __init__(
        self,
        conninfo: str,
        *,
        max_entries: int = 10_000,
        heartbeat: float = 1.0,
        max_silence: float = 3.0,
    ) -> None:
        self._conninfo, self._heartbeat = conninfo, heartbeat
        self.cache = InvoiceReadCache(max_entries=max_entries, max_silence=max_silence)
        self._owner_pid: int | None = None
        self._stopped = threading.Event()
        self._start_lock = threading.Lock()

    def read(self, invoice_id: str, render: Callable[[], RenderedInvoice]) -> RenderedInvoice:
        if self._owner_pid != os.getpid():
            self._start()
        return self.cache.read(invoice_id, render)

    def changed(self, invoice_id: str) -> None:
        self.cache.changed(invoice_id)

    def stats(self) -> InvoiceReadStats:
        return self.cache.stats()

    def close(self) -> None:
        """Stop listening (the thread ends within ``heartbeat``); reads render from now on."""
        self._stopped.set()
        self.cache.lose()

    def _start(self) -> None:
        with self._start_lock:
            if self._owner_pid == os.getpid() or self._stopped.is_set():
                return
            self._owner_pid = os.getpid()  # a forked child has no listener thread yet, and its cache is the parent's
            self.cache.lose()
            threading.Thread(target=self._listen, name="invoice-feed", daemon=True).start()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                self._follow()
            except _NotAnnounced:
                _log.warning("invoices are not announced (migration 0036 not applied): invoice reads are not kept")
                self._stopped.wait(60 * self._heartbeat)
            except psycopg.Error as error:
                if self._stopped.is_set():
                    break  # closed: the connection going away is expected (a dropped test database, a shutdown)
                _log.warning(
                    "invoice feed lost PostgreSQL (%s): invoice reads render until it is back", type(error).__name__
                )
            self.cache.lose()
            self._stopped.wait(self._heartbeat)

    def _follow(self) -> None:
        with psycopg.connect(
            self._conninfo,
            autocommit=True,
            application_name=FEED_APPLICATION,
            connect_timeout=max(2, int(self._heartbeat * 2)),
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
        ) as conn:
            if conn.execute(_ANNOUNCING).fetchone() is None:
                raise _NotAnnounced
            conn.execute(f"LISTEN {CHANNEL}")
            self.cache.follow()  # after LISTEN: every change committed from now on is announced
            while not self._stopped.is_set():
                for notification in conn.notifies(timeout=self._heartbeat):
                    self.cache.announce(notification.payload)
                conn.execute("SELECT 1")  # fails on a dead connection; notifications that came with it come next
                self.cache.alive()
