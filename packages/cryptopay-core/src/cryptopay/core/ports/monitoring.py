"""The monitoring port: numbers an operator's alerting watches (Prometheus gauges and counters in production)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["Metrics", "NotificationQueue"]


class Metrics(Protocol):
    """Sets gauges and counters; an adapter exports them (a Prometheus registry, a node-exporter text file)."""

    def gauge(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        """Set the gauge ``name`` (with these labels) to ``value``; ``about`` is its help text."""
        ...

    def counter(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        """Report the counter ``name`` (with these labels, its name ending in ``_total``) at ``value``: a running total
        kept where the events happen (e.g. in Redis), which only grows until that store is reset; alert on its
        ``increase()``."""
        ...


class NotificationQueue(Protocol):
    """How full the database's queue of notifications not yet read by every listener is (PostgreSQL's
    ``LISTEN``/``NOTIFY``, which the invoice read cache follows): a fraction from 0 to 1. A listener that holds its
    connection but stops reading makes it grow, and when it is full the writes that notify fail at commit."""

    def usage(self) -> float:
        """The fraction of the queue in use, 0 (empty) to 1 (full)."""
        ...
