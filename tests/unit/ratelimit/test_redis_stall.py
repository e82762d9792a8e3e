"""With Redis stalled, a request waits for one timeout, not one per touch, and its 503 names no exception (R14-6).

The stalled Redis is a listening socket that never answers (the kernel accepts the connection, nothing replies),
with a client timeout of 0.3 s instead of the production 2 s."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from cryptopay.adapters import redis_stall
from cryptopay.adapters.cache.identity import RedisEpoch
from cryptopay.adapters.ratelimit import RedisRateLimiter
from cryptopay.core.errors import Unavailable
from redis import Redis

TIMEOUT = 0.3


@pytest.fixture
def stalled_redis() -> Iterator[Redis]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        url = f"redis://127.0.0.1:{port}/0"  # built as the composition root builds its clients (no retries)
        client = Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        yield client
        client.close()


def test_an_api_key_request_waits_one_timeout_then_its_503_without_the_exception_class(stalled_redis: Redis) -> None:
    """The key's epoch read times out (the database is read instead); the merchant's epoch read and the limiter's hit
    of the same request then give up at once: the limiter's 503 after one timeout, not three."""
    epoch, limiter = RedisEpoch(stalled_redis), RedisRateLimiter(stalled_redis)
    started = time.monotonic()
    assert epoch.current() is None  # the API key's cache: waits the timeout, then the database
    assert epoch.current() is None  # the merchant's: at once
    with pytest.raises(Unavailable) as refused:
        limiter.hit("rl:key_1:POST:/v1/invoices", limit=600, window_seconds=60)
    waited = time.monotonic() - started
    assert TIMEOUT <= waited < 2 * TIMEOUT, waited
    assert refused.value.message == "the rate limiter is unreachable; retry later"


def test_a_later_request_asks_redis_again(stalled_redis: Redis) -> None:
    """Past the window the stall is forgotten: the next touch waits its timeout again (a recovered Redis is used)."""
    limiter = RedisRateLimiter(stalled_redis)
    redis_stall.seen(
        stalled_redis, TimeoutError("an earlier request"), now=time.monotonic() - redis_stall.WINDOW - 0.01
    )
    started = time.monotonic()
    with pytest.raises(Unavailable):
        limiter.hit("rl:ip:203.0.113.9", limit=30, window_seconds=60)
    assert time.monotonic() - started >= TIMEOUT
