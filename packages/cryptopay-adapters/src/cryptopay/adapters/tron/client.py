"""HTTP plumbing shared by the Tron watcher, sender and sweeper: a tronpy client, an httpx client for TronGrid v1,
and retries with backoff. Error messages name the operation, never the URL or the API key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import httpx
import requests
from cryptopay.core.retry import Backoff, call_with_backoff
from tronpy import Tron
from tronpy.exceptions import ApiError
from tronpy.providers import HTTPProvider

__all__ = ["TronApi"]

T = TypeVar("T")
_RETRYABLE: tuple[type[BaseException], ...] = (requests.RequestException, httpx.HTTPError, OSError, ApiError)


@attrs.define
class TronApi:
    """A TronGrid-compatible endpoint: tronpy for the full-node API, httpx for the v1 extension API."""

    url: str = attrs.field(repr=False)  # hosted endpoints may carry an API key in the URL
    api_key: str | None = attrs.field(default=None, repr=False)
    timeout: float = 10.0
    backoff: Backoff = attrs.field(factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    network: str = "tron"
    _tron: Tron | None = attrs.field(default=None, init=False, repr=False)
    _http: httpx.Client | None = attrs.field(default=None, init=False, repr=False)

    @property
    def tron(self) -> Tron:
        if self._tron is None:
            provider = HTTPProvider(self.url.rstrip("/") + "/", timeout=self.timeout, api_key=self.api_key)
            if self.api_key:
                provider.sess.headers["TRON-PRO-API-KEY"] = self.api_key
            self._tron = Tron(provider)
        return self._tron

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            headers = {"TRON-PRO-API-KEY": self.api_key} if self.api_key else {}
            self._http = httpx.Client(base_url=self.url.rstrip("/"), timeout=self.timeout, headers=headers)
        return self._http

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run an API action with retries; Unavailable once the backoff is exhausted."""
        return call_with_backoff(
            action, what=what, network=self.network, retry_on=_RETRYABLE, backoff=self.backoff, sleep=self.sleep
        )

    def post(self, what: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a full-node API call through tronpy's provider."""
        return self.call(what, lambda: dict(self.tron.provider.make_request(path, body)))

    def get_v1(self, what: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET a TronGrid v1 resource, raising on HTTP errors (so they are retried)."""

        def fetch() -> dict[str, Any]:
            response = self.http.get(path, params=params)
            response.raise_for_status()
            return dict(response.json())

        return self.call(what, fetch)


def trc20_balance(api: TronApi, contract: str, holder: str) -> int:
    """``contract.balanceOf(holder)`` in base units, by a constant call (nothing is broadcast)."""
    parameter = "0" * 24 + Tron.to_hex_address(holder)[2:]
    body = {
        "owner_address": holder,
        "contract_address": contract,
        "function_selector": "balanceOf(address)",
        "parameter": parameter,
        "visible": True,
    }
    answer = api.post("reading a token balance", "wallet/triggerconstantcontract", body)
    return int(answer["constant_result"][0] or "0", 16)
