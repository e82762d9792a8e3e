"""Rate caches with a TTL: the real Redis and the in-process cache, in front of HTTP sources on the simulator."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from cryptopay.adapters.fx import (
    BinanceTickerSource,
    FxSettings,
    KrakenSpreadSource,
    ProcessRateCache,
    RedisRateCache,
    TieredRateCache,
    build_cache,
)
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.fx import UnsupportedPair
from cryptopay.core.pricing import CachedRateSource
from cryptopay.core.testing.system import ManualClock

USDT_KES = Pair.parse("USDT/KES")


@pytest.fixture
def redis_cache(redis_url) -> Iterator[tuple[RedisRateCache, redis.Redis, str]]:
    prefix = f"test:fx:{secrets.token_hex(4)}:"
    client = redis.Redis.from_url(redis_url)
    yield RedisRateCache(client, prefix=prefix), client, prefix
    for key in client.scan_iter(f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def a_rate(mid: str = "129.45") -> Rate:
    return Rate(USDT_KES, mid, "binance", datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


def test_redis_round_trips_a_rate_as_a_string_value(redis_cache):
    """A rate put in Redis comes back equal, stored as JSON text with the mid as a string."""
    cache, client, prefix = redis_cache
    cache.put("binance:USDT/KES", a_rate("129.123456789"), timedelta(seconds=30))
    assert cache.get("binance:USDT/KES") == a_rate("129.123456789")
    assert b'"mid": "129.123456789"' in client.get(f"{prefix}binance:USDT/KES")
    assert 0 < client.pttl(f"{prefix}binance:USDT/KES") <= 30_000


def _expired(client: redis.Redis, key: str, *, within: float = 10.0) -> float:
    """Wait until Redis has dropped ``key`` (its TTL passed on Redis' clock); seconds waited. No fixed sleep: under
    load a sleep of a little more than the TTL can be too short, and an immediate read after ``put`` too late."""
    start = time.monotonic()
    while client.exists(key):
        assert time.monotonic() - start < within, f"{key} never expired"
        time.sleep(0.01)
    return time.monotonic() - start


def test_redis_entries_expire_after_their_ttl(redis_cache):
    """A Redis entry is kept for its TTL (never dropped sooner) and gone once it has passed."""
    cache, client, prefix = redis_cache
    start = time.monotonic()
    cache.put("k", a_rate(), timedelta(milliseconds=150))
    assert 0 < client.pttl(f"{prefix}k") <= 150
    if cache.get("k") is None:  # read late (a loaded machine): then the TTL must have passed by now
        assert time.monotonic() - start >= 0.15
    _expired(client, f"{prefix}k")
    assert time.monotonic() - start >= 0.15  # Redis' clock and ours agree to well under a millisecond here
    assert cache.get("k") is None


def test_an_unreachable_redis_is_unavailable_and_bypassed(fx_sandbox):
    """A Redis that cannot be reached raises Unavailable, and a cached source then asks the source directly."""
    cache = RedisRateCache.from_url("redis://127.0.0.1:1/0", timeout=0.2)
    with pytest.raises(Unavailable, match="redis"):
        cache.get("k")
    source = CachedRateSource(BinanceTickerSource(fx_sandbox.url), cache, timedelta(seconds=30))
    assert source.fetch(USDT_KES).mid == Decimal("129.45")


def test_a_redis_cached_source_serves_from_the_cache_within_the_ttl(fx_sandbox, redis_cache):
    """Within the TTL a changed upstream rate is not seen; after the TTL it is.

    The TTL is long enough that "within" holds however loaded the machine is; "after" is reached by letting Redis
    expire the entry at once (``PEXPIRE``) rather than by sleeping past a short TTL."""
    cache, client, prefix = redis_cache
    source = CachedRateSource(BinanceTickerSource(fx_sandbox.url), cache, timedelta(seconds=60))
    assert source.fetch(USDT_KES).mid == Decimal("129.45")
    (key,) = [k.decode() for k in client.scan_iter(f"{prefix}*")]
    assert 0 < client.pttl(key) <= 60_000  # stored for the source's TTL
    fx_sandbox.set_rate("binance", "USDT/KES", "131.00")
    assert source.fetch(USDT_KES).mid == Decimal("129.45")
    client.pexpire(key, 1)  # the TTL passes
    _expired(client, key)
    assert source.fetch(USDT_KES).mid == Decimal("131.00")


def test_the_in_process_cache_expires_by_the_clock(fx_sandbox):
    """The in-process cache serves a rate until the clock passes its TTL."""
    clock = ManualClock()
    source = CachedRateSource(BinanceTickerSource(fx_sandbox.url), ProcessRateCache(clock), timedelta(seconds=30))
    source.fetch(USDT_KES)
    fx_sandbox.set_rate("binance", "USDT/KES", "131.00")
    clock.advance(seconds=29)
    assert source.fetch(USDT_KES).mid == Decimal("129.45")
    clock.advance(seconds=1)
    assert source.fetch(USDT_KES).mid == Decimal("131.00")


def test_settings_choose_redis_when_configured_and_in_process_otherwise(redis_url):
    """build_cache returns a Redis cache for CRYPTOPAY_FX_REDIS_URL and an in-process one without it."""
    clock = ManualClock()
    with_redis = FxSettings.from_env({"CRYPTOPAY_FX_REDIS_URL": redis_url})
    assert isinstance(build_cache(with_redis, clock=clock), TieredRateCache)
    assert isinstance(build_cache(FxSettings.from_env({}), clock=clock), ProcessRateCache)


def test_a_source_that_does_not_quote_a_pair_is_asked_once_within_the_ttl(fx_sandbox, redis_cache):
    """ "Does not quote this pair" is cached like a rate (in Redis, for every process): no HTTP call per quote."""
    cache, _, _ = redis_cache
    source = CachedRateSource(KrakenSpreadSource(fx_sandbox.url), cache, timedelta(seconds=30))
    with pytest.raises(UnsupportedPair, match="USDT/KES") as first:
        source.fetch(USDT_KES)
    other_process = CachedRateSource(KrakenSpreadSource("http://127.0.0.1:9"), cache, timedelta(seconds=30))
    with pytest.raises(UnsupportedPair) as again:  # answered from Redis: the unreachable URL is never asked
        other_process.fetch(USDT_KES)
    assert again.value.message == first.value.message


def test_the_tiered_cache_keeps_a_redis_answer_in_the_process_until_it_expires_there(redis_cache):
    """An answer read from Redis is served from the process afterwards, and only until Redis' own expiry."""
    shared, client, prefix = redis_cache
    clock = ManualClock()
    shared.put("k", a_rate(), timedelta(seconds=20))
    tiered = TieredRateCache(shared, ProcessRateCache(clock))
    assert tiered.get("k") == a_rate()
    client.delete(f"{prefix}k")  # gone from Redis: the process copy still answers until its expiry
    assert tiered.get("k") == a_rate()
    clock.advance(seconds=20)
    assert tiered.get("k") is None
