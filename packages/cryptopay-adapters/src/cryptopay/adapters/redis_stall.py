"""One bounded wait for a stalled Redis per request (R14-6).

A request touches Redis in several places (the identity cache's epoch for its API key, again for its merchant, the
rate limiter), each client with its own 2-s socket timeout: with Redis stalled, an API-key request waited 6 s for
its 503. Once a touch of a Redis server has timed out, the next touches of that server in the same thread within
``WINDOW`` seconds give up at once, as that one did (the epoch reads from the database, the limiter fails closed):
the request waits one timeout, not one per touch. The HTTP app calls ``forget`` as each request starts (a thread
serves one request at a time), so the next request asks Redis again and a recovered Redis is used at once; outside
a request (the worker) the window alone bounds it. A refused connection is no wait and is not remembered.

>>> from redis import Redis
>>> client = Redis.from_url("redis://127.0.0.1:1/0")
>>> seen(client, TimeoutError("read timed out"), now=100.0); stalled(client, now=101.0), stalled(client, now=102.5)
(True, False)
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["WINDOW", "forget", "seen", "stalled"]

WINDOW = 2.0  # the clients' socket timeout: what one touch may wait
_until: ContextVar[dict[str, float] | None] = ContextVar("cryptopayredis_stalled_until", default=None)


def _server(client: Any) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host')}:{kwargs.get('port')}:{kwargs.get('path')}"


def seen(client: Any, error: BaseException, *, now: float | None = None) -> None:
    """Note a failed touch of ``client``'s server: a timeout makes the next ones give up at once."""
    if isinstance(error, RedisTimeoutError | TimeoutError):
        until = dict(_until.get() or {})
        until[_server(client)] = (time.monotonic() if now is None else now) + WINDOW
        _until.set(until)


def stalled(client: Any, *, now: float | None = None) -> bool:
    """Whether a touch of ``client``'s server in this thread timed out within ``WINDOW`` seconds (then give up
    without asking it)."""
    until = _until.get()
    return until is not None and (time.monotonic() if now is None else now) < until.get(_server(client), 0.0)


def forget() -> None:
    """A new request: whatever timed out in this thread before is asked again."""
    _until.set(None)
