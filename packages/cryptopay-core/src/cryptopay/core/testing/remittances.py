"""In-memory remittance orders: the reference behaviour of ``cryptopay.core.ports.remittances``.

Used inside ``InMemoryStorage(remittances=InMemoryRemittances(), ...)``, whose unit of work snapshots and restores it.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.remittances.model import RemittanceOrder, RemittanceState

__all__ = ["InMemoryRemittances"]


class InMemoryRemittances:
    def __init__(self) -> None:
        self._rows: dict[str, RemittanceOrder] = {}

    def add(self, order: RemittanceOrder) -> None:
        taken = any(o.public_id == order.public_id or o.invoice_id == order.invoice_id for o in self._rows.values())
        if order.id in self._rows or taken:
            raise Conflict(f"remittance order {order.id}, its public id or its invoice is taken")
        self._rows[order.id] = attrs.evolve(order)

    def get(self, order_id: str, *, lock: bool = False) -> RemittanceOrder | None:
        row = self._rows.get(order_id)
        return attrs.evolve(row) if row else None

    def by_public_id(self, public_id: str) -> RemittanceOrder | None:
        return next((attrs.evolve(o) for o in self._rows.values() if o.public_id == public_id), None)

    def update(self, order: RemittanceOrder) -> None:
        if order.id not in self._rows:
            raise NotFound(f"no remittance order {order.id}")
        self._rows[order.id] = attrs.evolve(order)

    def active(self, *, limit: int = 100) -> list[RemittanceOrder]:
        return [attrs.evolve(o) for o in sorted(self._rows.values(), key=lambda o: o.id) if o.is_active][:limit]

    def by_originator(self, address: str, name: str, *, since: datetime, limit: int = 100) -> list[RemittanceOrder]:
        rows = [
            o
            for o in self._rows.values()
            if o.created_at >= since and (o.originator[0] == address or o.originator[1] == name)
        ]
        return [attrs.evolve(o) for o in sorted(rows, key=lambda o: o.created_at, reverse=True)[:limit]]

    def lock_originator(self, address: str, name: str) -> None:
        """Nothing more to do: an in-memory unit of work holds the whole storage's lock already."""

    def list(self, *, state: RemittanceState | None, before: str | None, limit: int) -> list[RemittanceOrder]:
        rows = [
            o for o in self._rows.values() if (state is None or o.state is state) and (before is None or o.id < before)
        ]
        return [attrs.evolve(o) for o in sorted(rows, key=lambda o: o.id, reverse=True)[:limit]]
