"""FX ports: where rates come from, where they are cached, and where locked quotes are kept for the audit trail.

A ``RateSource`` answers one pair at a time with the source's own observation time (``Rate.as_of``), so
staleness is judged from the source's clock, not from when we asked. It raises ``UnsupportedPair`` for a
pair it does not quote and ``Unavailable`` when it cannot answer now.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import attrs
from cryptopay.core.errors import Refused
from cryptopay.core.fx import Pair, Quote, Rate

__all__ = ["QuoteRepository", "RateCache", "RateSource", "Unquoted", "UnsupportedPair"]


class UnsupportedPair(Refused):
    """This source does not quote the pair (another source, or a cross rate, may). Not a 404: the request names
    nothing missing; the deployment cannot price what it asks for."""

    code = "unsupported_pair"


class RateSource(Protocol):
    """One provider of mid-market rates."""

    @property
    def name(self) -> str: ...

    def fetch(self, pair: Pair) -> Rate: ...


@attrs.frozen
class Unquoted:
    """A source's answer that it does not quote ``pair`` (its ``UnsupportedPair``), cached like a rate."""

    pair: Pair
    reason: str


class RateCache(Protocol):
    """Short-lived storage of sources' answers (a rate, or ``Unquoted``) by key; an entry vanishes ``ttl`` after it
    was put."""

    def get(self, key: str) -> Rate | Unquoted | None: ...

    def put(self, key: str, answer: Rate | Unquoted, ttl: timedelta) -> None: ...


class QuoteRepository(Protocol):
    """Every locked quote, kept so that conversions can name the quote they used."""

    def add(self, quote: Quote) -> None: ...

    def get(self, quote_id: str) -> Quote | None: ...
