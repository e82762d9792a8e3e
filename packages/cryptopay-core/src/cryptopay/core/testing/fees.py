"""In-memory fee schedules: thread-safe; the reference behaviour of ``ports.fees``.

>>> from datetime import datetime, timezone
>>> from decimal import Decimal
>>> from cryptopay.core.money import KES
>>> fees = InMemoryFeeSchedules()
>>> fees.add(FeeSchedule(product=FeeProduct.MPESA_PAYOUT, asset=KES, version=1,
...                      effective_from=datetime(2026, 1, 1, tzinfo=timezone.utc), percent=Decimal("0.5")))
>>> [s.id for s in fees.versions(FeeProduct.MPESA_PAYOUT, KES)]
['mpesa_payout:KES:standard:v1']
"""

from __future__ import annotations

import threading

from cryptopay.core.errors import Conflict
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.money import Asset

__all__ = ["InMemoryFeeSchedules"]


def _order(schedule: FeeSchedule) -> tuple[str, str, str, int]:
    return schedule.product.value, schedule.asset.code, schedule.name, schedule.version


class InMemoryFeeSchedules:
    """``FeeScheduleRepository`` in a dict keyed by the schedule id (schedules are frozen values: no copies needed)."""

    def __init__(self) -> None:
        self._rows: dict[str, FeeSchedule] = {}
        self._lock = threading.Lock()

    def add(self, schedule: FeeSchedule) -> None:
        with self._lock:
            if schedule.id in self._rows:
                raise Conflict(f"fee schedule {schedule.id} is already stored; publish a new version instead")
            self._rows[schedule.id] = schedule

    def versions(self, product: FeeProduct, asset: Asset, name: str = "standard") -> list[FeeSchedule]:
        with self._lock:
            mine = [s for s in self._rows.values() if s.product is product and s.asset == asset and s.name == name]
        return sorted(mine, key=_order)

    def book(self) -> FeeBook:
        with self._lock:
            return FeeBook(sorted(self._rows.values(), key=_order))
