"""Rate caches: Redis when configured (shared by every process), in-process otherwise.

In Redis a rate is a JSON string with its mid as a string (never a float) and expires by Redis' own TTL.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import redis
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.system import Clock

__all__ = ["ProcessRateCache", "RedisRateCache", "rate_from_json", "rate_to_json"]

DEFAULT_PREFIX = "cryptopay:fx:rate:"


def rate_to_json(rate: Rate) -> str:
    """The cache form of a rate.

    >>> from datetime import UTC, datetime
    >>> rate_to_json(Rate(Pair.parse("USD/KES"), "129.2", "x", datetime(2026, 1, 5, tzinfo=UTC)))
    '{"pair": "USD/KES", "mid": "129.2", "source": "x", "as_of": "2026-01-05T00:00:00+00:00"}'
    """
    return json.dumps(
        {"pair": str(rate.pair), "mid": str(rate.mid), "source": rate.source, "as_of": rate.as_of.isoformat()}
    )


def rate_from_json(text: str | bytes) -> Rate:
    """A rate back from its cache form."""
    data = json.loads(text)
    return Rate(Pair.parse(data["pair"]), data["mid"], data["source"], datetime.fromisoformat(data["as_of"]))


class RedisRateCache:
    """Rates in Redis under ``prefix`` + key, set with a millisecond TTL; Redis failures are ``Unavailable``."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client, self._prefix = client, prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, timeout: float = 2.0) -> RedisRateCache:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix=prefix)

    def get(self, key: str) -> Rate | None:
        try:
            raw = self._client.get(self._prefix + key)
        except redis.RedisError as error:
            raise Unavailable(f"rate cache (redis): {type(error).__name__}") from None
        if raw is None:
            return None
        assert isinstance(raw, bytes | str)
        return rate_from_json(raw)

    def put(self, key: str, rate: Rate, ttl: timedelta) -> None:
        milliseconds = max(1, int(ttl.total_seconds() * 1000))
        try:
            self._client.set(self._prefix + key, rate_to_json(rate), px=milliseconds)
        except redis.RedisError as error:
            raise Unavailable(f"rate cache (redis): {type(error).__name__}") from None


class ProcessRateCache:
    """Rates in this process's memory, expiring by the injected clock (thread-safe)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[Rate, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Rate | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock.now() >= entry[1]:
                self._entries.pop(key, None)
                return None
            return entry[0]

    def put(self, key: str, rate: Rate, ttl: timedelta) -> None:
        with self._lock:
            self._entries[key] = (rate, self._clock.now() + ttl)
