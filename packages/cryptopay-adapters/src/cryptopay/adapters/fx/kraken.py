"""A Kraken-style spread feed (``GET /0/public/Spread?pair=USDTUSD``): recent ``[time, bid, ask]`` entries.

The newest entry's mid is the rate and its Unix time the observation time. Errors arrive as HTTP 200 with
``{"error": ["EQuery:Unknown asset pair"]}``. The result is keyed by Kraken's own pair name (``USDTZUSD``).
"""

from __future__ import annotations

from cryptopay.adapters.fx._http import HttpRateSource, get_json, mid_of, parsing, unix_time
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.fx import UnsupportedPair

__all__ = ["KrakenSpreadSource"]

DEFAULT_URL = "https://api.kraken.com"
_KRAKEN_CODES = {"BTC": "XBT"}


class KrakenSpreadSource(HttpRateSource):
    """Mid of the latest bid/ask from a Kraken-style public Spread endpoint."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, name: str = "kraken") -> None:
        super().__init__(base_url, timeout=timeout, name=name)

    def fetch(self, pair: Pair) -> Rate:
        codes = [_KRAKEN_CODES.get(a.code, a.code) for a in (pair.base, pair.quote)]
        status, body = get_json(self._client, "/0/public/Spread", source=self._name, params={"pair": "".join(codes)})
        with parsing(self._name):
            errors = [str(e) for e in body.get("error", [])]
            if any(e.startswith("EQuery:Unknown asset pair") for e in errors):
                raise UnsupportedPair(f"{self._name} has no {pair} market")
            if errors or status != 200:
                raise Unavailable(f"{self._name}: {', '.join(errors) or f'HTTP {status}'}")
            series = next(v for k, v in body["result"].items() if k != "last")
            time, bid, ask = series[-1]
            return Rate(pair, mid_of(self._name, bid, ask, market=pair, book="spread"), self._name, unix_time(time))
