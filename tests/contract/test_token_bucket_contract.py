"""The ``TokenBucket`` port: in-process and Redis buckets give the same answers, and a shared one never over-grants."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from cryptopay.adapters.ratelimit import ProcessTokenBucket, RedisTokenBucket
from cryptopay.core.ports.throughput import Throughput, TokenBucket

from tests.support.threads import joined


@pytest.fixture(params=["process", "redis"])
def bucket(request: pytest.FixtureRequest) -> Iterator[TokenBucket]:
    if request.param == "process":
        yield ProcessTokenBucket()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"test-bucket-{uuid.uuid4().hex[:8]}:"
    yield RedisTokenBucket(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def test_a_full_bucket_grants_its_burst_then_says_how_long_to_wait(bucket: TokenBucket) -> None:
    """Burst 3 at 1 per second: three takes succeed, the fourth takes nothing and names a wait of up to a second."""
    limit = Throughput(rate=1, burst=3)
    assert [bucket.take("600000", limit) for _ in range(3)] == [0, 0, 0]
    wait = bucket.take("600000", limit)
    assert 0 < wait <= 1


def test_buckets_are_per_key(bucket: TokenBucket) -> None:
    """One shortcode's empty bucket does not hold back another's."""
    limit = Throughput(rate=0.01, burst=1)
    assert bucket.take("600000", limit) == 0 and bucket.take("600000", limit) > 0
    assert bucket.take("600001", limit) == 0


def test_the_bucket_refills_at_its_rate(bucket: TokenBucket) -> None:
    """After waiting the time it named, a take succeeds again."""
    limit = Throughput(rate=50, burst=1)
    assert bucket.take("600000", limit) == 0
    wait = bucket.take("600000", limit)
    assert wait > 0
    time.sleep(wait + 0.01)
    assert bucket.take("600000", limit) == 0


def test_concurrent_takers_share_one_bucket_and_never_over_grant(bucket: TokenBucket) -> None:
    """Four threads taking 25 times each from a bucket of 10 that barely refills get exactly 10 tokens in all."""
    limit = Throughput(rate=0.001, burst=10)
    granted: list[int] = []

    def take_many() -> None:
        granted.append(sum(1 for _ in range(25) if bucket.take("600000", limit) == 0))

    threads = [threading.Thread(target=take_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    joined(*threads)
    assert sum(granted) == 10


def test_a_throughput_needs_a_positive_rate_and_burst() -> None:
    """A zero rate or an empty burst is refused when the setting is made."""
    for rate, burst in ((0, 1), (1, 0)):
        with pytest.raises(ValueError):
            Throughput(rate=rate, burst=burst)
