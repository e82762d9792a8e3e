"""A fixed-window ``RateLimiter`` in Redis, shared by every API process (``ProcessRateLimiter`` is the in-process one).

One key per (principal, route, window), counted by one Lua script (atomic in Redis, one command per request): the
first hit of a window sets its expiry, so a crash can never leave a counter without one, and a counter found
without an expiry (written by hand, or by an older version) gets one.
"""

from __future__ import annotations

from cryptopay.core.identity import RateDecision
from redis import Redis

__all__ = ["RedisRateLimiter"]

# KEYS[1] the window's counter; ARGV[1] the window in seconds. Returns {count, seconds left in the window}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    def __init__(self, client: Redis, *, prefix: str = "cryptopay:ratelimit:") -> None:
        self._redis = client
        self._prefix = prefix
        self._hit = client.register_script(_HIT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "cryptopay:ratelimit:") -> RedisRateLimiter:
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), prefix=prefix)

    def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        count, ttl = self._hit(keys=[f"{self._prefix}{key}"], args=[window_seconds])
        retry_after = int(ttl) if int(ttl) > 0 else window_seconds
        return RateDecision(int(count) <= limit, limit, max(0, limit - int(count)), retry_after)
