"""A fixed-window ``RateLimiter`` in this process's memory: one API process, or the embedded default.

>>> from cryptopay.core.system import SystemClock
>>> limiter = ProcessRateLimiter(SystemClock())
>>> [limiter.hit("k", limit=2, window_seconds=60).allowed for _ in range(3)]
[True, True, False]
"""

from __future__ import annotations

import threading

from cryptopay.core.identity import RateDecision
from cryptopay.core.ports.system import Clock

__all__ = ["ProcessRateLimiter"]

_MAX_KEYS = 10_000  # past this many counters, closed windows are dropped


class ProcessRateLimiter:
    """Windows aligned to the clock; counters of closed windows are dropped as new ones open."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        now = self._clock.now().timestamp()
        window = int(now // window_seconds)
        with self._lock:
            if len(self._counts) > _MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        retry_after = max(1, int((window + 1) * window_seconds - now + 0.999))
        return RateDecision(count <= limit, limit, max(0, limit - count), retry_after)
