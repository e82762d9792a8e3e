"""In-memory FX fakes: a scriptable rate source, a TTL rate cache and a quote repository.

The cache and the repository are also fine for embedding the core without Redis or a database.

>>> from cryptopay.core.fx import Pair
>>> from cryptopay.core.testing.system import ManualClock
>>> clock = ManualClock()
>>> source = FixedRateSource("fake", clock, {"USDT/KES": "129.5"})
>>> source.fetch(Pair.parse("USDT/KES")).mid
Decimal('129.5')
>>> source.fail("HTTP 500")
>>> source.fetch(Pair.parse("USDT/KES"))
Traceback (most recent call last):
...
cryptopay.core.errors.Unavailable: fake: HTTP 500
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

from cryptopay.core.errors import Conflict, Unavailable
from cryptopay.core.fx import Pair, Quote, Rate
from cryptopay.core.money import to_decimal
from cryptopay.core.ports.fx import UnsupportedPair
from cryptopay.core.ports.system import Clock

__all__ = ["FixedRateSource", "InMemoryQuoteRepository"]


class FixedRateSource:
    """A rate source answering scripted mids, timestamped by the clock minus an optional age."""

    def __init__(self, name: str, clock: Clock, mids: Mapping[str, object] | None = None) -> None:
        self._name, self._clock = name, clock
        self._mids: dict[Pair, Decimal] = {Pair.parse(p): to_decimal(m) for p, m in (mids or {}).items()}
        self._failure: str | None = None
        self._age = timedelta(0)
        self.calls: list[Pair] = []

    @property
    def name(self) -> str:
        return self._name

    def set(self, pair: str, mid: object) -> None:
        self._mids[Pair.parse(pair)] = to_decimal(mid)

    def fail(self, reason: str = "unavailable") -> None:
        self._failure = reason

    def go_stale(self, age: timedelta) -> None:
        self._age = age

    def recover(self) -> None:
        self._failure, self._age = None, timedelta(0)

    def fetch(self, pair: Pair) -> Rate:
        self.calls.append(pair)
        if self._failure is not None:
            raise Unavailable(f"{self._name}: {self._failure}")
        if pair not in self._mids:
            raise UnsupportedPair(f"{self._name} does not quote {pair}")
        return Rate(pair, self._mids[pair], self._name, self._clock.now() - self._age)


class InMemoryQuoteRepository:
    """Quotes by id; a quote id is never reused."""

    def __init__(self) -> None:
        self._quotes: dict[str, Quote] = {}

    def add(self, quote: Quote) -> None:
        if quote.id in self._quotes:
            raise Conflict(f"quote {quote.id} exists")
        self._quotes[quote.id] = quote

    def get(self, quote_id: str) -> Quote | None:
        return self._quotes.get(quote_id)

    def __len__(self) -> int:
        return len(self._quotes)
