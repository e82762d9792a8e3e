"""Invoice reads kept per process, never served stale once a committed change has been announced to it.

An API process answers ``GET /v1/invoices/{id}`` far more often than an invoice changes, and most of a read's CPU
was loading the stored document and turning it into objects and JSON. ``InvoiceReadCache`` keeps the rendered
answer (its bytes and the invoice's merchant, so the caller can still check who may see it) by invoice id. A
*change feed* tells it what changed: on PostgreSQL a trigger on ``invoices`` notifies every change at commit and a
listener thread per process announces it (``cryptopay.adapters.sql.invoice_feed``). The rules:

- A change announced evicts its invoice at once; ``reset`` (a lost or re-established feed, a truncated table)
  evicts everything. A change this process commits itself is evicted at its commit too (``changed``).
- A rendering is kept only if no change of its invoice, and no reset, was announced between the moment it began
  and the moment it ended (a *ticket* per rendering in flight): a rendering that may have read the old row before
  a change committed is served to its caller once and forgotten. So once a change's announcement has arrived,
  every later read renders it or something newer.
- Nothing is served from the cache or kept while the feed is not known to be alive: before ``follow``, after
  ``lose``, and when nothing (not even a heartbeat) was heard for ``max_silence`` seconds. After such a lapse
  everything kept before it is forgotten when the feed is heard again: announcements may have been missed.
- At most ``max_entries`` invoices, the least recently read going first. A missing invoice (``render`` raises) is
  never kept.

>>> cache = InvoiceReadCache(max_entries=2)
>>> cache.follow()
>>> _ = cache.read("inv_1", lambda: RenderedInvoice("m_1", b'{"state":"new"}'))
>>> cache.read("inv_1", lambda: RenderedInvoice("m_1", b"unused")).body
b'{"state":"new"}'
>>> cache.announce("inv_1")
>>> cache.read("inv_1", lambda: RenderedInvoice("m_1", b'{"state":"settled"}')).body
b'{"state":"settled"}'
>>> cache.stats()
InvoiceReadStats(hits=1, misses=2, evictions=1, announcements=1, bypassed=0, entries=1)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import attrs

__all__ = ["InvoiceReadCache", "InvoiceReadStats", "RenderedInvoice", "UncachedInvoiceReads"]

RESET = ""
"""The announcement that means "anything may have changed" (a truncated table)."""


@attrs.frozen
class RenderedInvoice:
    """An invoice as one shell renders it (the API's JSON body) and the merchant it belongs to."""

    merchant_id: str
    body: bytes


@attrs.frozen
class InvoiceReadStats:
    """What a process's invoice read cache did since it started: reads served from it (``hits``), rendered
    (``misses``, including ``bypassed`` ones while the feed was not alive), entries evicted by an announced change,
    changes announced, and the entries held now."""

    hits: int
    misses: int
    evictions: int
    announcements: int
    bypassed: int
    entries: int


class _Ticket:
    """A rendering in flight; spoiled when its invoice's change (or a reset) is announced before it ends."""

    __slots__ = ("spoiled",)

    def __init__(self) -> None:
        self.spoiled = False


class InvoiceReadCache:
    """The cache and its rules (module docstring); the change feed calls ``follow``, ``alive``, ``announce``,
    ``lose``, the read path ``read`` and ``changed``. Thread-safe; one lock, held only for dictionary work."""

    def __init__(
        self, *, max_entries: int = 10_000, max_silence: float = 3.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._max, self._max_silence, self._now = max_entries, max_silence, now
        self._entries: OrderedDict[str, RenderedInvoice] = OrderedDict()
        self._tickets: dict[str, list[_Ticket]] = {}
        self._following = False  # between ``follow`` and ``lose``
        self._live_until = 0.0  # heard from until then (``max_silence`` after the last word)
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._announcements = self._bypassed = 0

    def read(self, invoice_id: str, render: Callable[[], RenderedInvoice]) -> RenderedInvoice:
        """The cached rendering of ``invoice_id``, else ``render()`` (kept when the rules allow)."""
        with self._lock:
            alive = self._alive()
            found = self._entries.get(invoice_id) if alive else None
            if found is not None:
                self._entries.move_to_end(invoice_id)
                self._hits += 1
                return found
            self._misses += 1
            if not alive:
                self._bypassed += 1
                ticket = None
            else:
                ticket = _Ticket()
                self._tickets.setdefault(invoice_id, []).append(ticket)
        if ticket is None:
            return render()
        try:
            rendered = render()
        except BaseException:
            with self._lock:
                self._untrack(invoice_id, ticket)
            raise
        with self._lock:
            self._untrack(invoice_id, ticket)  # in the same hold as the check: no announcement falls between
            if not ticket.spoiled and self._alive():
                self._entries[invoice_id] = rendered
                self._entries.move_to_end(invoice_id)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return rendered

    def changed(self, invoice_id: str) -> None:
        """This process committed a change of ``invoice_id``: forget it now, not when the announcement arrives."""
        with self._lock:
            self._forget(invoice_id)

    def announce(self, invoice_id: str) -> None:
        """The feed heard that ``invoice_id`` changed (``RESET``: anything may have); it is alive."""
        with self._lock:
            self._announcements += 1
            if invoice_id == RESET:
                self._reset()
            elif self._forget(invoice_id):
                self._evictions += 1
            self._heard()

    def follow(self) -> None:
        """The feed is (again) listening: start from nothing, since changes before it may not have been heard."""
        with self._lock:
            self._reset()
            self._following, self._live_until = True, self._now() + self._max_silence

    def alive(self) -> None:
        """The feed heard from the database (a heartbeat): it is still listening."""
        with self._lock:
            self._heard()

    def lose(self) -> None:
        """The feed stopped listening: forget everything and render every read until it follows again."""
        with self._lock:
            self._reset()
            self._following = False

    def stats(self) -> InvoiceReadStats:
        with self._lock:
            return InvoiceReadStats(
                self._hits, self._misses, self._evictions, self._announcements, self._bypassed, len(self._entries)
            )

    def _alive(self) -> bool:
        """Whether the feed was heard within ``max_silence`` (what it kept before a lapse goes at ``_heard``)."""
        return self._following and self._now() < self._live_until

    def _heard(self) -> None:
        if not self._following:
            return  # only ``follow`` starts again, from nothing
        if self._now() >= self._live_until:
            self._reset()  # after a lapse, what was kept before it may have missed a change
        self._live_until = self._now() + self._max_silence

    def _forget(self, invoice_id: str) -> bool:
        for ticket in self._tickets.get(invoice_id, ()):
            ticket.spoiled = True
        return self._entries.pop(invoice_id, None) is not None

    def _reset(self) -> None:
        self._entries.clear()
        for tickets in self._tickets.values():
            for ticket in tickets:
                ticket.spoiled = True

    def _untrack(self, invoice_id: str, ticket: _Ticket) -> None:
        tickets = self._tickets[invoice_id]
        tickets.remove(ticket)
        if not tickets:
            del self._tickets[invoice_id]


class UncachedInvoiceReads:
    """``InvoiceReads`` that keeps nothing: every read renders (SQLite, the in-memory stack, a cache turned off:
    where no feed can tell this process about another's changes)."""

    def read(self, invoice_id: str, render: Callable[[], RenderedInvoice]) -> RenderedInvoice:
        return render()

    def changed(self, invoice_id: str) -> None:
        return None

    def stats(self) -> InvoiceReadStats:
        return InvoiceReadStats(0, 0, 0, 0, 0, 0)
