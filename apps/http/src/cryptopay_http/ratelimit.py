"""The Redis ``RateLimiter`` shared by every API process lives with the adapters (``cryptopay.adapters.ratelimit``)."""

from __future__ import annotations

from cryptopay.adapters.ratelimit import RedisRateLimiter

__all__ = ["RedisRateLimiter"]
