"""FX: observed rates, and locked quotes that conversions name.

A ``Quote`` is built from the median of fresh source rates with a safety margin either side, is valid
until ``expires_at``, and refuses to convert after that. Stale or missing rates refuse to quote; there is
never a fallback constant.

>>> from datetime import datetime, timedelta, timezone
>>> now = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
>>> rates = [Rate(Pair.parse("USDT/KES"), Decimal("129.10"), "a", now),
...          Rate(Pair.parse("USDT/KES"), Decimal("129.30"), "b", now)]
>>> quote = lock_quote(rates, now=now, quote_id="q1", margin=Decimal("0.005"))
>>> quote.bid, quote.ask
(Decimal('128.554000'), Decimal('129.846000'))
>>> quote.convert(Money.of("100", "USDT"), at=now)
Money('12855.40', 'KES')
>>> quote.base_needed(Money.of("5000", "KES"), at=now)
Money('38.894162', 'USDT')
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal

import attrs
from cryptopay.core.errors import AssetMismatch, InvalidInput, QuoteExpired, Unavailable
from cryptopay.core.money import Asset, Money, asset_by_code, to_decimal

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_AGE",
    "DEFAULT_QUOTE_TTL",
    "Pair",
    "Quote",
    "Rate",
    "lock_quote",
    "median_rate",
]

DEFAULT_MARGIN = Decimal("0.005")
DEFAULT_MAX_AGE = timedelta(minutes=5)
DEFAULT_QUOTE_TTL = timedelta(minutes=15)
_RATE_PLACES = Decimal("0.000001")


@attrs.frozen
class Pair:
    """A currency pair: the price of one ``base`` in ``quote`` units (USDT/KES = shillings per USDT)."""

    base: Asset
    quote: Asset

    @classmethod
    def parse(cls, text: str) -> Pair:
        """Parse ``"USDT/KES"``.

        >>> str(Pair.parse("usdt/kes"))
        'USDT/KES'
        """
        parts = text.replace("-", "/").split("/")
        if len(parts) != 2:
            raise InvalidInput(f"{text!r} is not a pair like 'USDT/KES'")
        return cls(asset_by_code(parts[0]), asset_by_code(parts[1]))

    def __str__(self) -> str:
        return f"{self.base.code}/{self.quote.code}"


@attrs.frozen
class Rate:
    """One source's mid-market rate for a pair at a moment."""

    pair: Pair
    mid: Decimal = attrs.field(converter=to_decimal)
    source: str
    as_of: datetime

    def __attrs_post_init__(self) -> None:
        if self.mid <= 0:
            raise InvalidInput(f"rate from {self.source} must be positive, got {self.mid}")
        if self.as_of.tzinfo is None:
            raise InvalidInput("rate times must be timezone-aware")

    def is_fresh(self, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> bool:
        return now - self.as_of <= max_age


def median_rate(
    rates: Sequence[Rate], *, pair: Pair | None = None, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE
) -> tuple[Decimal, tuple[str, ...], datetime]:
    """The median mid of the fresh rates, the sources used and the oldest observation; refuses if none is fresh."""
    wanted = pair or (rates[0].pair if rates else None)
    fresh = [r for r in rates if r.pair == wanted and r.is_fresh(now, max_age)]
    if not fresh:
        raise Unavailable(f"no fresh rate for {wanted or 'the pair'}: refusing to quote")
    mid = Decimal(statistics.median(r.mid for r in fresh))
    return mid, tuple(sorted(r.source for r in fresh)), min(r.as_of for r in fresh)


@attrs.frozen
class Quote:
    """A locked price: the platform buys ``base`` at ``bid`` and sells it at ``ask`` until ``expires_at``."""

    id: str
    pair: Pair
    bid: Decimal
    ask: Decimal
    sources: tuple[str, ...]
    as_of: datetime
    expires_at: datetime

    def __attrs_post_init__(self) -> None:
        if not (0 < self.bid <= self.ask):
            raise InvalidInput("a quote needs 0 < bid <= ask")

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    def check_valid(self, at: datetime) -> None:
        """Raise ``QuoteExpired`` if the quote is no longer valid at ``at``."""
        if at > self.expires_at:
            raise QuoteExpired(f"quote {self.id} expired at {self.expires_at.isoformat()}")

    def convert(self, money: Money, *, at: datetime, rounding: str = ROUND_DOWN) -> Money:
        """Convert at the side that favours the platform: base->quote at bid, quote->base at ask."""
        self.check_valid(at)
        if money.asset == self.pair.base:
            return Money.rounded(money.amount * self.bid, self.pair.quote, rounding)
        if money.asset == self.pair.quote:
            return Money.rounded(money.amount / self.ask, self.pair.base, rounding)
        raise AssetMismatch(f"quote {self.pair} cannot convert {money.asset.code}")

    def base_needed(self, target: Money, *, at: datetime) -> Money:
        """How much ``base`` must be paid in so that, sold at bid, it yields ``target`` (rounded up)."""
        self.check_valid(at)
        if target.asset != self.pair.quote:
            raise AssetMismatch(f"{target.asset.code} is not the quote asset of {self.pair}")
        return Money.rounded(target.amount / self.bid, self.pair.base, ROUND_UP)


def lock_quote(
    rates: Sequence[Rate],
    *,
    now: datetime,
    quote_id: str,
    pair: Pair | None = None,
    margin: Decimal = DEFAULT_MARGIN,
    ttl: timedelta = DEFAULT_QUOTE_TTL,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> Quote:
    """Lock a quote from the median of fresh rates with ``margin`` either side of the mid."""
    if not Decimal(0) <= margin < Decimal(1):
        raise InvalidInput("the safety margin must be in [0, 1)")
    if not rates and pair is None:
        raise Unavailable("no rates: refusing to quote")
    the_pair = pair or rates[0].pair
    mid, sources, as_of = median_rate(rates, pair=the_pair, now=now, max_age=max_age)
    bid = (mid * (1 - margin)).quantize(_RATE_PLACES, rounding=ROUND_DOWN)
    ask = (mid * (1 + margin)).quantize(_RATE_PLACES, rounding=ROUND_UP)
    return Quote(quote_id, the_pair, bid, ask, sources, as_of, now + ttl)
