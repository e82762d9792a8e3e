"""Remittance orders on SQL (``uow.remittances``): ``get(..., lock=True)`` locks the order's row (``FOR UPDATE`` on
PostgreSQL), so two workers never step one order at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.personal import PersonalFields
from cryptopay.adapters.sql.repositories._base import advisory_locks
from cryptopay.adapters.sql.repositories.payments import _Documents, _older
from cryptopay.adapters.sql.tables_remittances import remittance_orders
from cryptopay.core.remittances.model import RemittanceOrder, RemittanceState

__all__ = ["SqlRemittances"]

_ORIGINATOR_LOCKS = 0x524D544F  # "RMTO": remittance originators' keyed hashes (advisory_locks)


class SqlRemittances(_Documents[RemittanceOrder]):
    """Remittance orders; the recipient's name and phone and the sender's particulars are sealed at rest."""

    cls, table, what = RemittanceOrder, remittance_orders, "remittance order"
    fields = PersonalFields(
        "remittance_orders",
        (
            "recipient_phone",
            "recipient_name",
            "sender.name",
            "sender.address",
            "sender.date_of_birth",
            "sender.place_of_birth",
            "sender.id_number",
        ),
    )

    def _columns(self, item: RemittanceOrder) -> dict[str, Any]:
        return {
            "id": item.id,
            "public_id": item.public_id,
            "invoice_id": item.invoice_id,
            "state": item.state.value,
            "active": item.is_active,
            "originator_address": self._personal.lookup(item.originator[0]),
            "originator_name": self._personal.lookup(item.originator[1]),
            "created_at": item.created_at,
        }

    def add(self, order: RemittanceOrder) -> None:
        self._insert(order, f"remittance order {order.id}, its public id or its invoice is taken")

    def get(self, order_id: str, *, lock: bool = False) -> RemittanceOrder | None:
        return self._one(remittance_orders.c.id == order_id, lock=lock)

    def by_public_id(self, public_id: str) -> RemittanceOrder | None:
        return self._one(remittance_orders.c.public_id == public_id)

    def update(self, order: RemittanceOrder) -> None:
        self._update(order)

    def active(self, *, limit: int = 100) -> list[RemittanceOrder]:
        return self._select(remittance_orders.c.active.is_(True), limit=limit)

    def by_originator(self, address: str, name: str, *, since: datetime, limit: int = 100) -> list[RemittanceOrder]:
        c = remittance_orders.c
        keyed = sa.or_(
            c.originator_address == self._personal.lookup(address), c.originator_name == self._personal.lookup(name)
        )
        return self._select(keyed, c.created_at >= since, order=("created_at", "id"), limit=limit, newest_first=True)

    def lock_originator(self, address: str, name: str) -> None:
        """Transaction-level advisory locks on the keyed hashes of the originator's refund address and name
        (PostgreSQL; released at commit or rollback), taken in one order so two takers never deadlock. SQLite needs
        none: a writer's ``BEGIN IMMEDIATE`` already serialises every writer."""
        if self._conn.dialect.name != "postgresql" or not self._locking:
            return
        advisory_locks(self._conn, _ORIGINATOR_LOCKS, self._personal.lookup(address), self._personal.lookup(name))

    def list(self, *, state: RemittanceState | None, before: str | None, limit: int) -> list[RemittanceOrder]:
        in_state = () if state is None else (remittance_orders.c.state == state.value,)
        return self._select(*in_state, *_older(remittance_orders, before), limit=limit, newest_first=True)
