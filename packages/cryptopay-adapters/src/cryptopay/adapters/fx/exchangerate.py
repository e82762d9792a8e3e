"""ExchangeRate-API v6 (``GET /v6/latest/{base}``, key in an ``Authorization: Bearer`` header): fiat pairs.

The key goes in a header, not the path, so it never shows up in URLs, access logs or httpx's request log.
The response carries ``time_last_update_unix``, which is what staleness is judged on.
"""

from __future__ import annotations

from cryptopay.adapters.fx._http import HttpRateSource, get_json, parsing, unix_time
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.money import to_decimal
from cryptopay.core.ports.fx import UnsupportedPair

__all__ = ["ExchangeRateApiSource"]

DEFAULT_URL = "https://v6.exchangerate-api.com"


class ExchangeRateApiSource(HttpRateSource):
    """Mid rates between fiat currencies from an ExchangeRate-API v6 style endpoint."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0, name: str = "exchangerate-api") -> None:
        super().__init__(base_url, timeout=timeout, name=name, headers={"Authorization": f"Bearer {api_key}"})

    def fetch(self, pair: Pair) -> Rate:
        if not (pair.base.fiat and pair.quote.fiat):
            raise UnsupportedPair(f"{self._name} quotes fiat currencies only, not {pair}")
        status, body = get_json(self._client, f"/v6/latest/{pair.base.code}", source=self._name)
        with parsing(self._name):
            if body.get("result") != "success":
                raise self._error(status, str(body.get("error-type", "unknown-error")), pair)
            rates = body["conversion_rates"]
            if pair.quote.code not in rates:
                raise UnsupportedPair(f"{self._name} has no {pair.quote.code} rate")
            mid = to_decimal(rates[pair.quote.code])
            return Rate(pair, mid, self._name, unix_time(body["time_last_update_unix"]))

    def _error(self, status: int, error_type: str, pair: Pair) -> Exception:
        if error_type == "unsupported-code":
            return UnsupportedPair(f"{self._name} does not quote {pair}")
        # error types are fixed words (invalid-key, inactive-account, quota-reached): safe to show
        return Unavailable(f"{self._name}: {error_type} (HTTP {status})")
