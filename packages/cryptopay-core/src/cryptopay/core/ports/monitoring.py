"""The monitoring port: numbers an operator's alerting watches (Prometheus gauges in production)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["Metrics"]


class Metrics(Protocol):
    """Sets gauges; an adapter exports them (a Prometheus registry, a node-exporter text file)."""

    def gauge(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        """Set the gauge ``name`` (with these labels) to ``value``; ``about`` is its help text."""
        ...
