"""A Bitstamp-style ticker (``GET /api/v2/ticker/btcusd/``): the order book's best bid and ask, and its time.

Every value is a JSON string, ``timestamp`` in Unix seconds (what staleness is judged on). Pairs are lower-case
base + quote (``btcusd``); an unknown pair is HTTP 404.
"""

from __future__ import annotations

from cryptopay.adapters.fx._http import HttpRateSource, get_json, mid_of, parsing, unix_time
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.fx import UnsupportedPair

__all__ = ["BitstampTickerSource"]

DEFAULT_URL = "https://www.bitstamp.net"


class BitstampTickerSource(HttpRateSource):
    """Mid of best bid and ask from a Bitstamp-style v2 ticker."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, name: str = "bitstamp") -> None:
        super().__init__(base_url, timeout=timeout, name=name)

    def fetch(self, pair: Pair) -> Rate:
        market = f"{pair.base.code}{pair.quote.code}".lower()
        status, body = get_json(self._client, f"/api/v2/ticker/{market}/", source=self._name)
        with parsing(self._name):
            if status == 404:
                raise UnsupportedPair(f"{self._name} has no {market} market")
            if status != 200:
                raise Unavailable(f"{self._name}: HTTP {status}")
            mid = mid_of(self._name, body["bid"], body["ask"], market=market)
            return Rate(pair, mid, self._name, unix_time(int(str(body["timestamp"]))))
