"""Rate caches: Redis (shared by every process) behind a copy in each process, or in-process only.

In Redis an answer is a JSON string (a rate with its mid as a string, never a float, or a source's "does not quote
this pair") and expires by Redis' own TTL. ``TieredRateCache`` keeps what it read from Redis in the process until
the moment it expires in Redis, so a quote whose answers are cached costs no Redis round trip, and no answer lives
longer than it would have in Redis alone.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.fx import Unquoted
from cryptopay.core.ports.system import Clock

if TYPE_CHECKING:
    import redis  # imported where a Redis cache is used: the client library costs ~0.2 s to import

__all__ = ["ProcessRateCache", "RedisRateCache", "TieredRateCache", "rate_from_json", "rate_to_json"]

DEFAULT_PREFIX = "cryptopay:fx:rate:"
Answer = Rate | Unquoted


def rate_to_json(answer: Answer) -> str:
    """The cache form of an answer.

    >>> from datetime import UTC, datetime
    >>> rate_to_json(Rate(Pair.parse("USD/KES"), "129.2", "x", datetime(2026, 1, 5, tzinfo=UTC)))
    '{"pair": "USD/KES", "mid": "129.2", "source": "x", "as_of": "2026-01-05T00:00:00+00:00"}'
    >>> rate_to_json(Unquoted(Pair.parse("USDT/KES"), "kraken has no USDT/KES market"))
    '{"pair": "USDT/KES", "unquoted": "kraken has no USDT/KES market"}'
    """
    if isinstance(answer, Unquoted):
        return json.dumps({"pair": str(answer.pair), "unquoted": answer.reason})
    return json.dumps(
        {"pair": str(answer.pair), "mid": str(answer.mid), "source": answer.source, "as_of": answer.as_of.isoformat()}
    )


def rate_from_json(text: str | bytes) -> Answer:
    """An answer back from its cache form."""
    data = json.loads(text)
    if "unquoted" in data:
        return Unquoted(Pair.parse(data["pair"]), data["unquoted"])
    return Rate(Pair.parse(data["pair"]), data["mid"], data["source"], datetime.fromisoformat(data["as_of"]))


class RedisRateCache:
    """Answers in Redis under ``prefix`` + key, set with a millisecond TTL; Redis failures are ``Unavailable``."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client, self._prefix = client, prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, timeout: float = 2.0) -> RedisRateCache:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix=prefix)

    def get(self, key: str) -> Answer | None:
        found = self.entry(key)
        return found[0] if found is not None else None

    def entry(self, key: str) -> tuple[Answer, timedelta] | None:
        """The answer and how long it has left in Redis (one round trip), or None."""
        import redis

        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.get(self._prefix + key)
            pipe.pttl(self._prefix + key)
            raw, left = pipe.execute()
        except redis.RedisError as error:
            raise Unavailable(f"rate cache (redis): {type(error).__name__}") from None
        if raw is None or left is None or int(left) <= 0:  # gone, or without an expiry (not ours to trust)
            return None
        assert isinstance(raw, bytes | str)
        return rate_from_json(raw), timedelta(milliseconds=int(left))

    def put(self, key: str, answer: Answer, ttl: timedelta) -> None:
        milliseconds = max(1, int(ttl.total_seconds() * 1000))
        import redis

        try:
            self._client.set(self._prefix + key, rate_to_json(answer), px=milliseconds)
        except redis.RedisError as error:
            raise Unavailable(f"rate cache (redis): {type(error).__name__}") from None


class TieredRateCache:
    """``RedisRateCache`` behind a ``ProcessRateCache`` holding each answer until it expires in Redis."""

    def __init__(self, shared: RedisRateCache, local: ProcessRateCache) -> None:
        self._shared, self._local = shared, local

    def get(self, key: str) -> Answer | None:
        hit = self._local.get(key)
        if hit is not None:
            return hit
        found = self._shared.entry(key)
        if found is None:
            return None
        answer, left = found
        self._local.put(key, answer, left)
        return answer

    def put(self, key: str, answer: Answer, ttl: timedelta) -> None:
        self._shared.put(key, answer, ttl)
        self._local.put(key, answer, ttl)


class ProcessRateCache:
    """Rates in this process's memory, expiring by the injected clock (thread-safe)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[Answer, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Answer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock.now() >= entry[1]:
                self._entries.pop(key, None)
                return None
            return entry[0]

    def put(self, key: str, answer: Answer, ttl: timedelta) -> None:
        with self._lock:
            self._entries[key] = (answer, self._clock.now() + ttl)
