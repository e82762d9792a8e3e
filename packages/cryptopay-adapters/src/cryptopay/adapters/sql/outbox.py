"""The outbox on SQL: rows written in the use case's transaction; relays claim due rows with ``SKIP LOCKED``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.repositories._base import DriverRead
from cryptopay.adapters.sql.tables import outbox
from cryptopay.core.outbox import OutboxMessage
from sqlalchemy.engine import Connection

__all__ = ["SqlOutbox"]

_ADD = DriverRead(outbox.insert())  # on PostgreSQL, on the driver (an invoice's hot path)
_COLUMNS = ("id", "topic", "key", "payload", "created_at", "available_at", "attempts", "published_at", "last_error")


def _row(message: OutboxMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in _COLUMNS}


def _message(row: Any) -> OutboxMessage:
    m = row._mapping
    return OutboxMessage(
        id=m["id"],
        topic=m["topic"],
        payload=m["payload"],
        created_at=m["created_at"],
        available_at=m["available_at"],
        key=m["key"],
        attempts=m["attempts"],
        published_at=m["published_at"],
        last_error=m["last_error"],
    )


class SqlOutbox:
    """``Outbox`` on one connection's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, message: OutboxMessage) -> None:
        _ADD.execute(self._conn, _row(message))

    def get(self, message_id: str) -> OutboxMessage | None:
        row = self._conn.execute(sa.select(outbox).where(outbox.c.id == message_id)).first()
        return _message(row) if row else None

    def due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        query = (
            sa.select(outbox)
            .where(outbox.c.published_at.is_(None), outbox.c.available_at <= now)
            .order_by(outbox.c.available_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_message(r) for r in self._conn.execute(query)]

    def save(self, message: OutboxMessage) -> None:
        values = _row(message)
        del values["id"]
        self._conn.execute(outbox.update().where(outbox.c.id == message.id).values(**values))
