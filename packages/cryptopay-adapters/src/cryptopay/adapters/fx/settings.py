"""FX settings from ``CRYPTOPAY_FX_*`` environment variables.

``CRYPTOPAY_FX_SANDBOX_URL`` points every source at the local simulator (``cryptopay sandbox fx``) unless a
source's own URL is set. The API key and the Redis URL are kept out of ``repr`` and out of every message.

>>> settings = FxSettings.from_env({"CRYPTOPAY_FX_SANDBOX_URL": "http://127.0.0.1:9"})
>>> settings.binance_url, settings.exchangerate_key == "sandbox"
('http://127.0.0.1:9', True)
>>> "exchangerate_key" in repr(settings)
False
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

import attrs
from cryptopay.adapters.deployment import RedisKeys
from cryptopay.adapters.fx import binance, bitstamp, coinbase, exchangerate, kraken
from cryptopay.core.errors import InvalidInput
from cryptopay.core.fx import DEFAULT_MARGIN, DEFAULT_MAX_AGE, DEFAULT_QUOTE_TTL
from cryptopay.core.money import USDC, USDT, to_decimal
from cryptopay.core.pricing import PegBand, PricingPolicy

__all__ = ["SOURCE_NAMES", "FxSettings"]

SOURCE_NAMES = ("exchangerate-api", "binance", "kraken", "coinbase", "bitstamp")
_PREFIX = "CRYPTOPAY_FX_"


@attrs.frozen
class FxSettings:
    """Which rate sources to ask, where they are, and the pricing policy."""

    sources: tuple[str, ...] = SOURCE_NAMES
    exchangerate_url: str = exchangerate.DEFAULT_URL
    exchangerate_key: str = attrs.field(default="", repr=False)
    binance_url: str = binance.DEFAULT_URL
    kraken_url: str = kraken.DEFAULT_URL
    coinbase_url: str = coinbase.DEFAULT_URL
    bitstamp_url: str = bitstamp.DEFAULT_URL
    timeout: Decimal = Decimal("5")
    cache_ttl: timedelta = timedelta(seconds=30)
    max_age: timedelta = DEFAULT_MAX_AGE
    quote_ttl: timedelta = DEFAULT_QUOTE_TTL
    margin: Decimal = DEFAULT_MARGIN
    peg_low: Decimal = Decimal("0.98")
    peg_high: Decimal = Decimal("1.02")
    redis_url: str | None = attrs.field(default=None, repr=False)
    cache_prefix: str = "cryptopay:fx:rate:"  # the deployment's (``CRYPTOPAY_DEPLOYMENT``) Redis keys

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FxSettings:
        """Read ``CRYPTOPAY_FX_*`` (and ``CRYPTOPAY_REDIS_URL`` as the cache fallback); bad values are refused."""
        get = _Reader(env).get
        sandbox = get("SANDBOX_URL")
        names = tuple(n.strip() for n in get("SOURCES", ",".join(SOURCE_NAMES)).split(",") if n.strip())
        unknown = sorted(set(names) - set(SOURCE_NAMES))
        if unknown:
            raise InvalidInput(
                f"{_PREFIX}SOURCES: unknown source(s) {', '.join(unknown)}; known: {', '.join(SOURCE_NAMES)}"
            )
        return cls(
            sources=names,
            exchangerate_url=get("EXCHANGERATE_URL", sandbox or exchangerate.DEFAULT_URL),
            exchangerate_key=get("EXCHANGERATE_KEY", "sandbox" if sandbox else ""),
            binance_url=get("BINANCE_URL", sandbox or binance.DEFAULT_URL),
            kraken_url=get("KRAKEN_URL", sandbox or kraken.DEFAULT_URL),
            coinbase_url=get("COINBASE_URL", sandbox or coinbase.DEFAULT_URL),
            bitstamp_url=get("BITSTAMP_URL", sandbox or bitstamp.DEFAULT_URL),
            timeout=_positive("TIMEOUT_SECONDS", get("TIMEOUT_SECONDS", "5")),
            cache_ttl=_seconds("CACHE_TTL_SECONDS", get("CACHE_TTL_SECONDS", "30"), allow_zero=True),
            max_age=_seconds("MAX_AGE_SECONDS", get("MAX_AGE_SECONDS", "300")),
            quote_ttl=_seconds("QUOTE_TTL_SECONDS", get("QUOTE_TTL_SECONDS", "900")),
            margin=_decimal("MARGIN", get("MARGIN", str(DEFAULT_MARGIN))),
            peg_low=_positive("PEG_MIN", get("PEG_MIN", "0.98")),
            peg_high=_positive("PEG_MAX", get("PEG_MAX", "1.02")),
            redis_url=get("REDIS_URL") or env.get("CRYPTOPAY_REDIS_URL") or None,
            cache_prefix=RedisKeys.from_env(env).fx_rates,
        )

    def policy(self) -> PricingPolicy:
        """The pricing policy these settings describe (one peg band, ``PEG_MIN``-``PEG_MAX``, for each stablecoin)."""
        bands = tuple(PegBand(stable=coin, low=self.peg_low, high=self.peg_high) for coin in (USDT, USDC))
        return PricingPolicy(margin=self.margin, quote_ttl=self.quote_ttl, max_age=self.max_age, pegs=bands)


@attrs.frozen
class _Reader:
    env: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.env.get(_PREFIX + name, "").strip() or default


def _decimal(name: str, text: str) -> Decimal:
    try:
        return to_decimal(text)
    except (InvalidInput, TypeError):
        raise InvalidInput(f"{_PREFIX}{name} must be a number, got {text!r}") from None


def _positive(name: str, text: str) -> Decimal:
    value = _decimal(name, text)
    if value <= 0:
        raise InvalidInput(f"{_PREFIX}{name} must be positive, got {text!r}")
    return value


def _seconds(name: str, text: str, *, allow_zero: bool = False) -> timedelta:
    value = _decimal(name, text)
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"{_PREFIX}{name} must be a positive number of seconds, got {text!r}")
    return timedelta(seconds=int(value))
