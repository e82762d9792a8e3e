"""Clock and id generator ports: time and identity are injected so use cases stay deterministic."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock", "IdGenerator"]


class Clock(Protocol):
    """The current time, always timezone-aware UTC."""

    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    """New unique identifiers with a readable prefix, e.g. ``inv_01J...``."""

    def new_id(self, prefix: str) -> str: ...
