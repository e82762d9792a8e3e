"""The HTTP plumbing the rate sources share: one GET, JSON numbers as Decimals, failures as ``Unavailable``.

Messages name the source and what went wrong, never the URL or headers (an API key may be in either).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cryptopay.core.errors import CryptopayError, Unavailable
from cryptopay.core.money import to_decimal

if TYPE_CHECKING:  # httpx is imported where a request is made: every process that loads the settings imports this
    import httpx

__all__ = ["HttpRateSource", "Response", "get_json", "mid_of", "new_client", "parsing", "unix_time"]

Response = tuple[int, Any]


def new_client(base_url: str, timeout: float, headers: Mapping[str, str] | None = None) -> httpx.Client:
    """An httpx client for one source, with no redirects to follow and a timeout on every phase."""
    import httpx

    return httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=dict(headers or {}))


def get_json(client: httpx.Client, path: str, *, source: str, params: Mapping[str, str] | None = None) -> Response:
    """GET ``path`` and return ``(status, body)``; 5xx, 429, timeouts and non-JSON bodies (but a 404's, which comes
    back as ``None``) are ``Unavailable``."""
    import httpx

    try:
        response = client.get(path, params=params)
    except httpx.TimeoutException:
        raise Unavailable(f"{source}: no answer within {client.timeout.read} s") from None
    except httpx.HTTPError as error:
        raise Unavailable(f"{source}: request failed ({type(error).__name__})") from None
    if response.status_code in (418, 429):
        raise Unavailable(f"{source}: rate limited (HTTP {response.status_code})")
    if response.status_code >= 500:
        raise Unavailable(f"{source}: HTTP {response.status_code}")
    try:
        return response.status_code, json.loads(response.content, parse_float=Decimal)
    except ValueError:
        if response.status_code == 404:  # an unknown market's page: the caller decides what a 404 means
            return response.status_code, None
        raise Unavailable(f"{source}: HTTP {response.status_code} with a body that is not JSON") from None


@contextmanager
def parsing(source: str) -> Iterator[None]:
    """Turn a response of an unexpected shape into ``Unavailable`` (our own errors pass through)."""
    try:
        yield
    except CryptopayError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError, StopIteration):
        raise Unavailable(f"{source}: unexpected response shape") from None


def unix_time(value: object) -> datetime:
    """A UTC datetime from Unix seconds (int or Decimal)."""
    if not isinstance(value, int | Decimal) or isinstance(value, bool):
        raise TypeError("a Unix time is a number")
    return datetime.fromtimestamp(int(value), UTC)


def mid_of(source: str, bid: object, ask: object, *, market: object, book: str = "order book") -> Decimal:
    """The mid of a quoted ``bid`` and ``ask``; ``Unavailable`` unless 0 < bid <= ask (a one-sided or crossed
    ``book`` is no price).

    >>> mid_of("binance", "129", "131", market="USDTKES")
    Decimal('130')
    """
    low, high = to_decimal(bid), to_decimal(ask)
    if not 0 < low <= high:
        raise Unavailable(f"{source}: no usable {book} for {market}")
    return (low + high) / 2


class HttpRateSource:
    """What every HTTP rate source shares: its name (what its rates and errors say) and one client on
    ``base_url``; the subclasses read one market each in ``fetch``.

    >>> source = HttpRateSource("https://api.example.com", name="example")
    >>> source.name
    'example'
    >>> source.close()
    """

    def __init__(
        self, base_url: str, *, timeout: float = 5.0, name: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self._name = name
        self._client = new_client(base_url, timeout, headers)

    @property
    def name(self) -> str:
        return self._name

    def close(self) -> None:
        self._client.close()
