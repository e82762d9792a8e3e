"""Metrics kept in memory, to assert on what a use case reported."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["RecordingMetrics", "SetNotificationQueue"]


class RecordingMetrics:
    """The ``Metrics`` port as a dict: ``values[(name, ((label, value), ...))] = value`` (gauges and counters alike);
    ``counters`` names the counters."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.counters: set[str] = set()

    def gauge(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        self.values[(name, tuple(sorted((labels or {}).items())))] = value

    def counter(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        self.counters.add(name)
        self.values[(name, tuple(sorted((labels or {}).items())))] = value

    def get(self, name: str, **labels: str) -> float | None:
        return self.values.get((name, tuple(sorted(labels.items()))))


@attrs.define
class SetNotificationQueue:
    """The ``NotificationQueue`` port in memory: reports ``fraction``, which a test sets (0 to 1)."""

    fraction: float = 0.0

    def usage(self) -> float:
        return self.fraction
