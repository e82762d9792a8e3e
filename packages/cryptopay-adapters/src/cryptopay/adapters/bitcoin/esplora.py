"""An Esplora REST client (httpx): chain reads and broadcasting, with retries and Decimal fee rates.

Error messages name the operation, never the URL (hosted Esplora URLs may carry API keys).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import httpx
from cryptopay.core.errors import Refused, Unavailable
from cryptopay.core.retry import Backoff, call_with_backoff

__all__ = ["EsploraClient"]


class _Retry(Exception):
    """A 5xx or 429 answer: worth retrying."""


@attrs.define
class EsploraClient:
    """Blockstream Esplora-compatible API at ``url`` (mempool.space, blockstream.info, a local electrs)."""

    url: str = attrs.field(repr=False)  # hosted endpoints may carry an API key in the URL
    timeout: float = 10.0
    backoff: Backoff = attrs.field(factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    network: str = "bitcoin"
    _http: httpx.Client | None = attrs.field(default=None, init=False, repr=False)

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.url.rstrip("/"), timeout=self.timeout)
        return self._http

    def _request(self, what: str, method: str, path: str, content: str | None = None) -> httpx.Response | None:
        def attempt() -> httpx.Response | None:
            response = self.http.request(method, path, content=content)
            if response.status_code == 404:
                return None
            if response.status_code >= 500 or response.status_code == 429:
                raise _Retry(str(response.status_code))
            return response

        return call_with_backoff(
            attempt,
            what=what,
            network=self.network,
            retry_on=(httpx.HTTPError, OSError, _Retry),
            backoff=self.backoff,
            sleep=self.sleep,
        )

    def get_text(self, what: str, path: str) -> str | None:
        response = self._request(what, "GET", path)
        return None if response is None else response.text.strip()

    def get_json(self, what: str, path: str) -> Any:
        """JSON with floats parsed as Decimal (fee rates and amounts are never floats here)."""
        response = self._request(what, "GET", path)
        return None if response is None else json.loads(response.text, parse_float=Decimal)

    def get_object(self, what: str, path: str) -> dict[str, Any] | None:
        """A JSON object (None on 404); any other JSON shape is an upstream fault."""
        value = self.get_json(what, path)
        if value is None or isinstance(value, dict):
            return value
        raise Unavailable(f"{what}: the Esplora answer is not a JSON object")

    def get_array(self, what: str, path: str) -> list[dict[str, Any]]:
        """A JSON array of objects ([] on 404); any other JSON shape is an upstream fault."""
        value = self.get_json(what, path)
        if value is None:
            return []
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return value
        raise Unavailable(f"{what}: the Esplora answer is not a JSON array of objects")

    def tip_height(self) -> int:
        return int(self.get_text("reading the tip height", "/blocks/tip/height") or 0)

    def block_hash(self, height: int) -> str | None:
        return self.get_text(f"reading block {height}", f"/block-height/{height}")

    def block(self, block_hash: str) -> dict[str, Any] | None:
        return self.get_object("reading a block", f"/block/{block_hash}")

    def tx(self, txid: str) -> dict[str, Any] | None:
        return self.get_object("reading a transaction", f"/tx/{txid}")

    def tx_status(self, txid: str) -> dict[str, Any] | None:
        return self.get_object("reading a transaction status", f"/tx/{txid}/status")

    def outspend(self, txid: str, vout: int) -> dict[str, Any]:
        return self.get_object("reading an outspend", f"/tx/{txid}/outspend/{vout}") or {"spent": False}

    def address_txs(self, address: str) -> list[dict[str, Any]]:
        return self.get_array("reading address transactions", f"/address/{address}/txs")

    def address_chain_txs(self, address: str, last_seen: str) -> list[dict[str, Any]]:
        return self.get_array("reading address history", f"/address/{address}/txs/chain/{last_seen}")

    def utxos(self, address: str) -> list[dict[str, Any]]:
        return self.get_array("reading unspent outputs", f"/address/{address}/utxo")

    def fee_estimates(self) -> dict[int, Decimal]:
        """Target blocks -> sat/vB."""
        raw = self.get_object("reading fee estimates", "/fee-estimates") or {}
        return {int(k): Decimal(v) for k, v in raw.items()}

    def broadcast(self, raw_hex: str) -> str:
        """POST /tx; the node's reject reason becomes a Refused error."""
        response = self._request("broadcasting", "POST", "/tx", content=raw_hex)
        if response is None or response.status_code >= 400:
            reason = response.text if response is not None else "not found"
            raise Refused(f"the Bitcoin node rejected the transaction: {reason[:200]}")
        return response.text.strip()
