"""One bounded wait for a stalled Redis per request (R14-6).

A request touches Redis in several places (the identity cache's epoch for its API key, again for its merchant, the
rate limiter), each client with its own 2-s socket timeout: with Redis stalled, an API-key request waited 6 s for
its 503. Once a touch has timed out (or could not connect), the next touches in the same thread within ``WINDOW``
seconds give up at once, as that one did (the epoch reads from the database, the limiter fails closed): the request
waits one timeout, not one per touch. A thread serves one request at a time, so this is per request; a later one
(past the window) tries Redis again, so a recovered Redis is used at once.

>>> seen(TimeoutError("read timed out"), now=100.0); stalled(now=101.0), stalled(now=102.5)
(True, False)
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["WINDOW", "seen", "stalled"]

WINDOW = 2.0  # the clients' socket timeout: what one touch may wait
_until: ContextVar[float] = ContextVar("cryptopay_redis_stalled_until", default=0.0)


def seen(error: BaseException, *, now: float | None = None) -> None:
    """Note a failed touch: a timeout or a connection refused or lost makes the next ones give up at once."""
    if isinstance(error, RedisTimeoutError | RedisConnectionError | TimeoutError | ConnectionError):
        _until.set((time.monotonic() if now is None else now) + WINDOW)


def stalled(*, now: float | None = None) -> bool:
    """Whether a touch in this thread timed out within ``WINDOW`` seconds (then give up without asking Redis)."""
    return (time.monotonic() if now is None else now) < _until.get()
