"""The webhook sender over httpx: a POST with short timeouts, no redirects, and a capped response read.

It logs the host and path, the status and the time taken; never the headers (they carry the signature), the
body, the query string, or any secret. Unless ``allow_private_networks`` (the sandbox, tests), it refuses
endpoints that resolve to private, loopback or link-local addresses, so a merchant cannot aim us inward.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.webhooks import WebhookResponse

__all__ = ["HttpxWebhookSender"]

log = logging.getLogger(__name__)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def _resolves_inward(host: str, port: int) -> bool:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return False  # let httpx report the DNS failure in its own words
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return True
    return False


class HttpxWebhookSender:
    """``WebhookSender`` over httpx; ``close`` (or ``with``) releases its connection pool."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_response_bytes: int = 2048,
        allow_private_networks: bool = False,
        user_agent: str = "cryptopay-webhooks/1",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._max = max_response_bytes
        self._allow_private = allow_private_networks
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            headers={"user-agent": user_agent},
            transport=transport,
        )

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        where, started = _where(url), time.monotonic()
        self._check_target(url, where)
        try:
            with self._client.stream("POST", url, headers=dict(headers), content=body) as response:
                snippet = self._read_capped(response)
        except httpx.TimeoutException:
            log.info("webhook POST %s timed out", where)
            raise Unavailable(f"no answer from {where} in time") from None
        except (httpx.TransportError, httpx.InvalidURL) as error:
            log.info("webhook POST %s failed: %s", where, type(error).__name__)
            raise Unavailable(f"could not reach {where} ({type(error).__name__})") from None
        elapsed = int((time.monotonic() - started) * 1000)
        log.info("webhook POST %s answered %d in %d ms", where, response.status_code, elapsed)
        return WebhookResponse(response.status_code, snippet)

    def _check_target(self, url: str, where: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unavailable(f"{where} is not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if not self._allow_private and _resolves_inward(parts.hostname, port):
            raise Unavailable(f"{where} resolves to a private or loopback address; refused")

    def _read_capped(self, response: httpx.Response) -> str:
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= self._max:
                break
        return data[: self._max].decode("utf-8", errors="replace")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpxWebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
