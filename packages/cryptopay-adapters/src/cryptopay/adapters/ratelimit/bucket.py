"""``TokenBucket`` adapters: in this process (one worker, the embedded default), or in Redis (every worker).

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; taking one either succeeds or says how
long until one is free. The Redis bucket is one hash per key updated by one Lua script (atomic in Redis), timed by
Redis's own clock so workers on different hosts agree.

>>> bucket = ProcessTokenBucket()
>>> limit = Throughput(rate=1, burst=2)
>>> [bucket.take("600000", limit) == 0 for _ in range(3)]
[True, True, False]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cryptopay.core.ports.throughput import Throughput
from redis import Redis

__all__ = ["ProcessTokenBucket", "RedisTokenBucket"]


class ProcessTokenBucket:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, limit: Throughput) -> float:
        with self._lock:
            now = self._now()
            tokens, at = self._buckets.get(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - at) * limit.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / limit.rate


# KEYS[1] the bucket; ARGV rate, burst. Returns "0" when a token was taken, else the seconds to wait (a string:
# Lua numbers come back to Redis as integers).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


class RedisTokenBucket:
    def __init__(self, client: Redis, *, prefix: str = "cryptopay:bucket:") -> None:
        self._redis, self._prefix = client, prefix
        self._script = client.register_script(_TAKE)

    def take(self, key: str, limit: Throughput) -> float:
        wait = self._script(keys=[f"{self._prefix}{key}"], args=[repr(float(limit.rate)), limit.burst])
        return float(wait.decode() if isinstance(wait, bytes) else wait)
