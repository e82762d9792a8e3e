"""The webhook sender over httpx: resolve once, vet every address, connect to the vetted one.

A merchant names the host; we decide where the bytes go. The host is read as a resolver reads it
(``cryptopay.core.webhooks.targets``), resolved once, and every address it resolves to must be public
(``is_global``); a failed lookup refuses the send (fail closed). The request then goes to the vetted address
itself, with the original name in the ``Host`` header and as the TLS server name (SNI and certificate check),
so a second lookup by httpx cannot rebind the name to an inward address between check and connect. No
redirects are followed and no proxy from the environment is used. The answer's body is never read: merchants
see a status and a short reason of our own words, never what their (or anyone's) server said.

It logs the host and path, the status and the time taken; never the headers (they carry the signature), the
body, the query string, the resolved address, or any secret. ``allow_loopback`` (the sandbox, outside
production only) admits loopback addresses; private, CGNAT, link-local and multicast addresses never pass.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx
from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.webhooks import WebhookResponse
from cryptopay.core.webhooks.targets import IPAddress, admits, host_problem, literal_address

__all__ = ["HttpxWebhookSender", "Resolver", "system_resolver"]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host`` (raises ``OSError`` when the lookup fails)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class HttpxWebhookSender:
    """``WebhookSender`` over httpx; ``close`` (or ``with``) releases its connection pool."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        allow_loopback: bool = False,
        user_agent: str = "cryptopay-webhooks/1",
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolver
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            headers={"user-agent": user_agent},
            trust_env=False,
            verify=verify,
            transport=transport,
        )

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        where, started = _where(url), time.monotonic()
        request = self._vetted_request(url, where, headers, body)
        try:
            response = self._client.send(request, stream=True)
            response.close()  # the body is never read: it is not ours to keep or to show
        except httpx.TimeoutException:
            log.info("webhook POST %s timed out", where)
            raise Unavailable(f"no answer from {where} in time") from None
        except (httpx.TransportError, httpx.InvalidURL) as error:
            log.info("webhook POST %s failed: %s", where, type(error).__name__)
            # One outcome for every transport error (refused, TLS, not HTTP): which one is not the merchant's to
            # read, or the delivery log would tell ports and services apart (review R17); our log keeps it.
            raise Unavailable(f"could not reach {where} (no HTTP answer)") from None
        elapsed = int((time.monotonic() - started) * 1000)
        log.info("webhook POST %s answered %d in %d ms", where, response.status_code, elapsed)
        return WebhookResponse(response.status_code)

    def _vetted_request(self, url: str, where: str, headers: Mapping[str, str], body: bytes) -> httpx.Request:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unavailable(f"{where} is not an http(s) URL")
        problem = host_problem(parts.hostname, allow_loopback=self._allow_loopback)
        if problem is not None:
            raise Unavailable(f"{where} refused: {problem}")
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            raise Unavailable(f"{where} is not a valid URL") from None
        address = self._vetted_address(target.host, target.port or (443 if target.scheme == "https" else 80), where)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        return self._client.build_request(
            "POST",
            target.copy_with(host=str(address)),
            headers={**headers, "host": target.netloc.decode("ascii")},
            content=body,
            extensions=extensions,
        )

    def _vetted_address(self, host: str, port: int, where: str) -> IPAddress:
        """The address to connect to: the literal itself, or the first of the lookup's answers, all vetted."""
        literal = literal_address(host)
        if literal is not None:
            if not admits(literal, allow_loopback=self._allow_loopback):
                raise Unavailable(f"{where} refused: not a public address")
            return literal
        try:
            addresses = [literal_address(found.split("%", 1)[0]) for found in self._resolve(host, port)]
        except (OSError, UnicodeError):
            raise Unavailable(f"could not resolve the host of {where}; not sent") from None
        vetted = [a for a in addresses if a is not None and admits(a, allow_loopback=self._allow_loopback)]
        if not addresses or len(vetted) != len(addresses):
            raise Unavailable(f"{where} resolves to a non-public address; refused")
        return vetted[0]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpxWebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
