"""The outbox: messages written in the same transaction as the state change they announce.

A relay later reads the due messages, hands them to the queue or the webhook sender, and marks them
published; "committed but never announced" cannot happen, at worst a message is announced twice, so
consumers are idempotent on ``OutboxMessage.id``.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> message = OutboxMessage.new("out_1", "invoice.settled", {"invoice_id": "inv_1"}, at=at)
>>> message.is_due(at), message.published_at is None
(True, True)
>>> later = message.failed("queue down", retry_at=at.replace(minute=5))
>>> later.attempts, later.is_due(at)
(1, False)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = ["OutboxMessage"]


def _payload(value: Mapping[str, Any]) -> dict[str, Any]:
    payload = dict(value)
    try:
        json.dumps(payload)
    except (TypeError, ValueError):
        raise InvalidInput("an outbox payload must be JSON (amounts as strings)") from None
    return payload


@attrs.frozen
class OutboxMessage:
    """A message to publish: ``topic`` names the event, ``payload`` is plain JSON, ``key`` groups related ones."""

    id: str
    topic: str
    payload: dict[str, Any] = attrs.field(converter=_payload, hash=False)
    created_at: datetime
    available_at: datetime
    key: str | None = None
    attempts: int = 0
    published_at: datetime | None = None
    last_error: str | None = None

    @classmethod
    def new(
        cls, message_id: str, topic: str, payload: Mapping[str, Any], *, at: datetime, key: str | None = None
    ) -> OutboxMessage:
        """A fresh message, due at once."""
        return cls(message_id, topic, dict(payload), at, at, key)

    def is_due(self, now: datetime) -> bool:
        return self.published_at is None and self.available_at <= now

    def published(self, at: datetime) -> OutboxMessage:
        return attrs.evolve(self, published_at=at, last_error=None)

    def failed(self, error: str, *, retry_at: datetime) -> OutboxMessage:
        return attrs.evolve(self, attempts=self.attempts + 1, last_error=error[:500], available_at=retry_at)
