"""A Binance-style 24h ticker (``GET /api/v3/ticker/24hr?symbol=USDTKES``): the order-book mid of a market.

Prices are JSON strings; ``closeTime`` (milliseconds) is the last update and what staleness is judged on.
An unknown symbol is HTTP 400 with ``{"code": -1121, "msg": "Invalid symbol."}``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptopay.adapters.fx._http import HttpRateSource, get_json, mid_of, parsing
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.fx import UnsupportedPair

__all__ = ["BinanceTickerSource"]

DEFAULT_URL = "https://api.binance.com"
_INVALID_SYMBOL = -1121


class BinanceTickerSource(HttpRateSource):
    """Mid of best bid and ask from a Binance-style 24h ticker; the symbol is base + quote (USDTKES)."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, name: str = "binance") -> None:
        super().__init__(base_url, timeout=timeout, name=name)

    def fetch(self, pair: Pair) -> Rate:
        symbol = f"{pair.base.code}{pair.quote.code}"
        status, body = get_json(self._client, "/api/v3/ticker/24hr", source=self._name, params={"symbol": symbol})
        with parsing(self._name):
            if status != 200:
                if body.get("code") == _INVALID_SYMBOL:
                    raise UnsupportedPair(f"{self._name} has no {symbol} market")
                raise Unavailable(f"{self._name}: HTTP {status} (code {int(body.get('code', 0))})")
            mid = mid_of(self._name, body["bidPrice"], body["askPrice"], market=symbol)
            as_of = datetime.fromtimestamp(int(body["closeTime"]) / 1000, UTC)
            return Rate(pair, mid, self._name, as_of)
