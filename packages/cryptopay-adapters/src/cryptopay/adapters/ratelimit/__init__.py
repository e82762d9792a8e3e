"""``RateLimiter`` adapters: Redis (shared by every API process) when Redis is configured, in-process otherwise.

Both count fixed windows: a principal's ``limit`` hits per route per ``window_seconds``.
"""

from __future__ import annotations

from cryptopay.adapters.ratelimit.process import ProcessRateLimiter
from cryptopay.adapters.ratelimit.redis import RedisRateLimiter

__all__ = ["ProcessRateLimiter", "RedisRateLimiter"]
