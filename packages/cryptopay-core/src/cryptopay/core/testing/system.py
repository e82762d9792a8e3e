"""Deterministic clock and ids for tests.

>>> clock = ManualClock()
>>> start = clock.now()
>>> clock.advance(minutes=5)
>>> int((clock.now() - start).total_seconds())
300
>>> ids = SequentialIds()
>>> ids.new_id("inv"), ids.new_id("inv")
('inv_000001', 'inv_000002')
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock", "SequentialIds"]


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self._now = moment


class SequentialIds:
    """Ids ``prefix_000001``, ``prefix_000002``, ... (thread-safe)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{next(self._counter):06d}"
