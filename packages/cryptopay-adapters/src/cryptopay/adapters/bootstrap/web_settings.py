"""The production web server's settings (``CRYPTOPAY_WEB_*``): processes, threads, drain time; read by the root.

>>> WebSettings.from_env({"CRYPTOPAY_WEB_THREADS": "4"}).threads
4
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = ["WebSettings", "reachable_url"]


def _default_workers() -> int:
    return max(2, min(8, os.cpu_count() or 1))


@attrs.frozen(kw_only=True)
class WebSettings:
    """How many processes and threads serve requests; from ``CRYPTOPAY_WEB_*`` (see README, Configuration)."""

    workers: int = attrs.field(factory=_default_workers)
    threads: int = 8  # threads running the app per worker (the database pool is this plus two)
    graceful_seconds: int = 20  # after SIGTERM, how long workers may finish in-flight requests
    backlog: int = 2048  # connections the kernel queues before they are accepted
    backpressure: int | None = None  # requests in flight per worker before new ones wait (None: backlog / workers)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        source = os.environ if env is None else env

        def number(name: str, default: int) -> int:
            value = source.get(f"CRYPTOPAY_WEB_{name}", "").strip()
            if not value:
                return default
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                raise InvalidInput(f"CRYPTOPAY_WEB_{name} must be a positive whole number, not {value!r}")
            return int(value)

        defaults = cls()
        return cls(
            workers=number("WORKERS", defaults.workers),
            threads=number("THREADS", defaults.threads),
            graceful_seconds=number("GRACEFUL_TIMEOUT", defaults.graceful_seconds),
            backlog=number("BACKLOG", defaults.backlog),
            backpressure=number("BACKPRESSURE", 0) or None,
        )


def reachable_url(host: str, port: int) -> str:
    """Where a server listening on ``host:port`` is reached from this machine (the wildcard is the loopback): the
    development API's public URL (``serve --dev``) and what it tells ``worker --dev``.

    >>> reachable_url("0.0.0.0", 8001), reachable_url("::1", 8002), reachable_url("localhost", 8000)
    ('http://127.0.0.1:8001', 'http://[::1]:8002', 'http://localhost:8000')
    """
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
