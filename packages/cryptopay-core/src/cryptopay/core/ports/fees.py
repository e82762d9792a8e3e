"""Fee port: the store of fee schedule versions (data, never edited: a change is a new version).

A version is identified by ``FeeSchedule.id`` (product, asset, name, version); storing one twice is a ``Conflict``.
``book()`` gathers every stored version into a ``FeeBook``, which picks the version in force at a moment.
"""

from __future__ import annotations

from typing import Protocol

from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.money import Asset

__all__ = ["FeeScheduleRepository"]


class FeeScheduleRepository(Protocol):
    def add(self, schedule: FeeSchedule) -> None:
        """Store a new version; ``Conflict`` if that product, asset, name and version is already stored."""
        ...

    def versions(self, product: FeeProduct, asset: Asset, name: str = "standard") -> list[FeeSchedule]:
        """Every stored version of one schedule, oldest (lowest version) first."""
        ...

    def book(self) -> FeeBook:
        """A ``FeeBook`` of every stored version."""
        ...
