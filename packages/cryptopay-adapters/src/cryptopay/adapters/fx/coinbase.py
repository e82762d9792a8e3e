"""A Coinbase Exchange-style product ticker (``GET /products/BTC-USD/ticker``): best bid and ask of a market.

Prices are JSON strings; ``time`` (RFC 3339, the last trade) is what staleness is judged on. An unknown product
is HTTP 404 with ``{"message": "NotFound"}``. Coinbase names products ``BASE-QUOTE``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptopay.adapters.fx._http import HttpRateSource, get_json, mid_of, parsing
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.fx import UnsupportedPair

__all__ = ["CoinbaseTickerSource"]

DEFAULT_URL = "https://api.exchange.coinbase.com"


class CoinbaseTickerSource(HttpRateSource):
    """Mid of best bid and ask from a Coinbase Exchange-style product ticker."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, name: str = "coinbase") -> None:
        super().__init__(base_url, timeout=timeout, name=name)

    def fetch(self, pair: Pair) -> Rate:
        product = f"{pair.base.code}-{pair.quote.code}"
        status, body = get_json(self._client, f"/products/{product}/ticker", source=self._name)
        with parsing(self._name):
            if status == 404:
                raise UnsupportedPair(f"{self._name} has no {product} product")
            if status != 200:
                raise Unavailable(f"{self._name}: HTTP {status}")
            mid = mid_of(self._name, body["bid"], body["ask"], market=product)
            as_of = datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00"))
            if as_of.tzinfo is None:
                as_of = as_of.replace(tzinfo=UTC)
            return Rate(pair, mid, self._name, as_of)
