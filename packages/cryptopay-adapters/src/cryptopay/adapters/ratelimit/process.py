"""A fixed-window ``RateLimiter`` in this process's memory: one API process, or the embedded default.

>>> from cryptopay.core.system import SystemClock
>>> limiter = ProcessRateLimiter(SystemClock())
>>> [limiter.hit("k", limit=2, window_seconds=60).allowed for _ in range(3)]
[True, True, False]
>>> limiter.take_back("k", window_seconds=60); limiter.take_back("k", window_seconds=60)
>>> limiter.hit("k", limit=2, window_seconds=60).allowed
True
"""

from __future__ import annotations

import threading

from cryptopay.core.identity import RateDecision
from cryptopay.core.ports.system import Clock

__all__ = ["ProcessRateLimiter"]

_MAX_KEYS = 10_000  # past this many counters, those of ended windows are dropped


class ProcessRateLimiter:
    """Windows aligned to the clock; counters of ended windows are dropped as new ones open.

    A counter is keyed by its key, window length and window number, and dropped only once its own window has
    ended, whatever the window length of the hit that prunes. Pruning runs when the counters have doubled since
    the last prune (at least ``_MAX_KEYS``), so a flood of new keys costs amortised constant time per hit.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int, int], int] = {}
        self._prune_at = _MAX_KEYS
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        now = self._clock.now().timestamp()
        window = int(now // window_seconds)
        with self._lock:
            if len(self._counts) > self._prune_at:
                self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}
                self._prune_at = max(_MAX_KEYS, 2 * len(self._counts))
            count = self._counts.get((key, window_seconds, window), 0) + 1
            self._counts[(key, window_seconds, window)] = count
        retry_after = max(1, int((window + 1) * window_seconds - now + 0.999))
        return RateDecision(count <= limit, limit, max(0, limit - count), retry_after)

    def take_back(self, key: str, *, window_seconds: int) -> None:
        counter = self._counter(key, window_seconds)
        with self._lock:
            count = self._counts.get(counter, 0)
            if count > 0:
                self._counts[counter] = count - 1

    def clear(self, key: str, *, window_seconds: int) -> None:
        counter = self._counter(key, window_seconds)
        with self._lock:
            self._counts.pop(counter, None)

    def _counter(self, key: str, window_seconds: int) -> tuple[str, int, int]:
        return key, window_seconds, int(self._clock.now().timestamp() // window_seconds)
