"""Locked FX quotes kept in memory: a quote never changes once locked, so no invalidation is needed.

Every invoice read shows the quote its amounts came from; without this cache that is a database transaction per
read. Only quotes that exist are kept (a miss is asked again), in a bounded LRU; a quote this process locked is
kept once it is stored, so the invoice it priced is shown without reading it back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from cryptopay.core.fx import Quote
from cryptopay.core.ports.fx import QuoteRepository

__all__ = ["CachedQuotes"]


class CachedQuotes:
    """``QuoteRepository`` serving ``get`` from an LRU of immutable quotes."""

    def __init__(self, inner: QuoteRepository, *, max_entries: int = 50_000) -> None:
        self._inner, self._max = inner, max_entries
        self._quotes: OrderedDict[str, Quote] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, quote: Quote) -> None:
        self._inner.add(quote)  # committed (or raised) before it is remembered
        self._keep(quote)

    def get(self, quote_id: str) -> Quote | None:
        with self._lock:
            found = self._quotes.get(quote_id)
            if found is not None:
                self._quotes.move_to_end(quote_id)
                return found
        quote = self._inner.get(quote_id)
        if quote is not None:
            self._keep(quote)
        return quote

    def _keep(self, quote: Quote) -> None:
        with self._lock:
            self._quotes[quote.id] = quote
            self._quotes.move_to_end(quote.id)
            while len(self._quotes) > self._max:
                self._quotes.popitem(last=False)
