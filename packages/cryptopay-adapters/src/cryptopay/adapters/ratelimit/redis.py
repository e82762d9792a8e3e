"""A fixed-window ``RateLimiter`` in Redis, shared by every API process (``ProcessRateLimiter`` is the in-process one).

One key per (principal, route, window), counted by one Lua script (atomic in Redis): the first hit of a window sets
its expiry, so a crash can never leave a counter without one, and a counter found without an expiry (written by
hand, or by an older version) gets one.

A busy key does not cost a round trip per request: a process takes a *lease* of several hits at once (the script
adds them to the shared counter, never past the limit) and spends them locally until they are gone or the window
ends. The counter counts leased hits as spent, so all processes together never allow more than ``limit`` hits per
window. What a lease costs: hits another process leased and did not use are refused to this one, so a key spread
over N processes may get its 429 up to (N - 1) leases early. That is why a lease is small: at most
``MAX_LEASE`` hits, a 64th of the limit, an eighth of what is left in the window, and a single hit for limits
under 128 (login and other strict limits count every hit in Redis, exactly as before). ``RateLimit-Remaining``
is exact for a key used by one process. A refusal is remembered until the window ends (the counter only grows
within it), so a key hammering past its limit costs no round trips either.

``take_back`` (one hit uncounted, e.g. a password check that passed) and ``clear`` (the window's count forgotten)
are the exceptions: they change the counter in Redis and drop this process's lease of the key; another process
that remembered a refusal of the key keeps refusing until the window ends (stricter, never looser).

Redis unreachable (down, or stopped and not answering within the client's 2 s): a hit that needs Redis raises
``Unavailable`` (a 503 problem with ``Retry-After``), it never allows; once a touch of Redis timed out in the
request (the identity cache's epoch read, say), the hit raises it without waiting again (``redis_stall``). It fails
closed because the limiter is what holds logins, codes and money requests to their pace, and a limit that lapses
whenever Redis does is one an attacker need only wait for; a hit runs before the operation, so a refused request has
started nothing (its Idempotency-Key is not used up). Hits the process has leased are still spent. ``take_back`` and
``clear`` that cannot reach Redis log a warning and return: the hit stays counted (stricter), and the request they
end (a login that passed) is not failed for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import attrs
from cryptopay.adapters import redis_stall
from cryptopay.core.errors import Unavailable
from cryptopay.core.identity import RateDecision
from redis import Redis, RedisError

__all__ = ["MAX_LEASE", "RedisRateLimiter", "lease_size"]

MAX_LEASE = 32
log = logging.getLogger(__name__)
_UNREACHABLE = "the rate limiter is unreachable; retry later"  # the caller's detail: no exception class named
_MAX_KEYS = 10_000  # past this many leases, ended ones are dropped, then the oldest (see ``_pruned``)

# KEYS[1] the window's counter; ARGV window seconds, limit, hits wanted. Takes min(wanted, an eighth of what is
# left, at least 1) hits when any are left; counts one refused hit otherwise. Returns {count, ms left, taken}.
_LEASE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local left = tonumber(ARGV[2]) - count
local take = 0
if left > 0 then
  take = math.max(1, math.min(tonumber(ARGV[3]), math.floor(left / 8)))
  count = redis.call('INCRBY', KEYS[1], take)
else
  count = redis.call('INCR', KEYS[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1]) * 1000
end
return {count, ttl, take}
"""

# KEYS[1] the window's counter: one hit uncounted, never below nothing, and nothing made for a window already ended.
_TAKE_BACK = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


@attrs.define
class _Lease:
    limit: int
    until: float  # monotonic end of the window
    count: int  # the shared counter when the lease was taken (the lease's hits included)
    hits: int  # leased hits not yet spent

    def decision(self, allowed: bool, now: float) -> RateDecision:
        retry_after = max(1, int(self.until - now + 0.999))
        return RateDecision(allowed, self.limit, max(0, self.limit - self.count + self.hits), retry_after)


def lease_size(limit: int) -> int:
    """How many hits a process asks for at once under ``limit`` (Redis caps it at an eighth of what is left).

    >>> lease_size(30), lease_size(600), lease_size(100_000)
    (1, 9, 32)
    """
    return max(1, min(MAX_LEASE, limit // 64))


def _pruned(leases: dict[str, _Lease], now: float) -> dict[str, _Lease]:
    """``leases`` without the ended ones; when over half of ``_MAX_KEYS`` are still live (many clients, or names
    made up to fill the map), only the newest quarter. Forgetting a lease is always safe: Redis keeps its count
    (the leased hits were counted there), so the key costs one round trip more and is never looser. Pruning down to
    half keeps it rare: without it, past ``_MAX_KEYS`` live keys every new one rebuilt the whole map under the lock.
    """
    live = {key: lease for key, lease in leases.items() if lease.until > now}
    if len(live) <= _MAX_KEYS // 2:
        return live
    return dict(list(live.items())[-(_MAX_KEYS // 4) :])


class RedisRateLimiter:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "cryptopay:ratelimit:",
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._lease = client.register_script(_LEASE)
        self._take_back = client.register_script(_TAKE_BACK)
        self._now = now
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "cryptopay:ratelimit:") -> RedisRateLimiter:
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), prefix=prefix)

    def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        now = self._now()
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease.limit == limit and now < lease.until:
                if lease.hits > 0:
                    lease.hits -= 1
                    return lease.decision(True, now)
                if lease.count >= limit:  # refused until the window ends: its counter only grows
                    return lease.decision(False, now)
        if redis_stall.stalled(self._redis):  # a touch in this request timed out: one wait per request (R14-6)
            raise Unavailable(_UNREACHABLE)
        try:
            count, ttl, taken = self._lease(
                keys=[f"{self._prefix}{key}"], args=[window_seconds, limit, lease_size(limit)]
            )
        except RedisError as error:  # fail closed: see the module's docstring
            redis_stall.seen(self._redis, error)
            log.warning("the rate limiter cannot reach Redis (%s): refused with a 503", type(error).__name__)
            raise Unavailable(_UNREACHABLE) from None
        lease = _Lease(limit, now + int(ttl) / 1000, int(count), max(0, int(taken) - 1))
        with self._lock:
            if len(self._leases) >= _MAX_KEYS:
                self._leases = _pruned(self._leases, now)
            self._leases[key] = lease  # replaces a lease a concurrent request took: stricter, never looser
        return lease.decision(int(taken) > 0, now)

    def take_back(self, key: str, *, window_seconds: int) -> None:
        """One hit uncounted in Redis; this process's lease of the key is dropped, so its next hit asks Redis (a
        lease that remembered the full count would refuse it; unspent leased hits are given up: stricter, never
        looser)."""
        with self._lock:
            self._leases.pop(key, None)
        try:
            self._take_back(keys=[f"{self._prefix}{key}"])
        except RedisError as error:  # the hit stays counted: stricter, never looser
            log.warning("a rate-limit hit could not be taken back (%s)", type(error).__name__)

    def clear(self, key: str, *, window_seconds: int) -> None:
        """The window's counter deleted in Redis, and this process's lease of it dropped. Other processes may still
        hold a refused lease of the key until its window ends (stricter, never looser)."""
        with self._lock:
            self._leases.pop(key, None)
        try:
            self._redis.delete(f"{self._prefix}{key}")
        except RedisError as error:  # the count stays until its window ends: stricter, never looser
            log.warning("a rate-limit window could not be cleared (%s)", type(error).__name__)
