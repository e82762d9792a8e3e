"""A fixed-window ``RateLimiter`` in Redis, shared by every API process (``ProcessRateLimiter`` is the in-process one).

One key per (principal, route, window): ``SET NX EX`` opens the window and ``INCR`` counts, in one MULTI, so a
crash can never leave a counter without its expiry.
"""

from __future__ import annotations

from cryptopay.core.identity import RateDecision
from redis import Redis

__all__ = ["RedisRateLimiter"]


class RedisRateLimiter:
    def __init__(self, client: Redis, *, prefix: str = "cryptopay:ratelimit:") -> None:
        self._redis = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "cryptopay:ratelimit:") -> RedisRateLimiter:
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), prefix=prefix)

    def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        name = f"{self._prefix}{key}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(name, 0, ex=window_seconds, nx=True)
        pipe.incr(name)
        pipe.ttl(name)
        _, count, ttl = pipe.execute()
        retry_after = int(ttl) if ttl and int(ttl) > 0 else window_seconds
        return RateDecision(int(count) <= limit, limit, max(0, limit - int(count)), retry_after)
