"""The ``RateLimiter`` port: in-process and Redis counters give the same answers, and a hit taken back or a count
cleared is gone at once, in the process that took it back too (its Redis lease is dropped with it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from cryptopay.adapters.ratelimit import ProcessRateLimiter, RedisRateLimiter
from cryptopay.core.ports.identity import RateLimiter
from cryptopay.core.testing.system import ManualClock

LOGIN = {"limit": 3, "window_seconds": 900}


@pytest.fixture(params=["process", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    if request.param == "process":
        yield ProcessRateLimiter(ManualClock())
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"test-limiter-{uuid.uuid4().hex[:8]}:"
    yield RedisRateLimiter(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def test_a_hit_taken_back_no_longer_counts(limiter: RateLimiter) -> None:
    """A full count with one hit taken back allows exactly one more."""
    assert all(limiter.hit("account:password:usr_1", **LOGIN).allowed for _ in range(3))
    limiter.take_back("account:password:usr_1", window_seconds=900)
    assert limiter.hit("account:password:usr_1", **LOGIN).allowed
    assert not limiter.hit("account:password:usr_1", **LOGIN).allowed


def test_taking_back_never_goes_below_nothing(limiter: RateLimiter) -> None:
    """Taking back more than was counted (or from a key never hit) leaves the limit as it was, never larger."""
    limiter.take_back("account:password:usr_2", window_seconds=900)
    limiter.hit("account:password:usr_2", **LOGIN)
    limiter.take_back("account:password:usr_2", window_seconds=900)
    limiter.take_back("account:password:usr_2", window_seconds=900)
    assert [limiter.hit("account:password:usr_2", **LOGIN).allowed for _ in range(4)] == [True, True, True, False]


def test_a_cleared_count_starts_again_and_other_keys_keep_theirs(limiter: RateLimiter) -> None:
    for key in ("account:password:usr_3", "account:password:usr_4"):
        assert all(limiter.hit(key, **LOGIN).allowed for _ in range(3))
    limiter.clear("account:password:usr_3", window_seconds=900)
    assert [limiter.hit("account:password:usr_3", **LOGIN).allowed for _ in range(4)] == [True, True, True, False]
    assert not limiter.hit("account:password:usr_4", **LOGIN).allowed
