"""``RateLimiter`` adapters: Redis (shared by every API process) when Redis is configured, in-process otherwise.

Both count fixed windows: a principal's ``limit`` hits per route per ``window_seconds``. The token buckets
(``bucket``) pace outgoing requests instead: Daraja payouts per shortcode.
"""

from __future__ import annotations

from cryptopay.adapters.ratelimit.bucket import ProcessTokenBucket, RedisTokenBucket
from cryptopay.adapters.ratelimit.process import ProcessRateLimiter
from cryptopay.adapters.ratelimit.redis import RedisRateLimiter

__all__ = ["ProcessRateLimiter", "ProcessTokenBucket", "RedisRateLimiter", "RedisTokenBucket"]
