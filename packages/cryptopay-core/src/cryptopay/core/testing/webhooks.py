"""In-memory webhook repositories (extras of ``InMemoryStorage``) and a recording sender.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.outbox import OutboxMessage
>>> storage = webhook_storage()
>>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> with storage.unit_of_work() as uow:
...     uow.outbox.add(OutboxMessage.new("out_1", "invoice.settled", {"merchant_id": "m1"}, at=at))
...     uow.webhook_endpoints.for_merchant("m1")
[]
>>> [message.id for message in storage.outbox_messages()]
['out_1']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import attrs
import cryptopay.core.ledger  # noqa: F401  (first: importing testing.storage first trips the ports.ledger cycle)
from cryptopay.core.errors import Conflict, Unavailable
from cryptopay.core.ports.webhooks import WebhookResponse
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.webhooks.model import (
    DeliveryStatus,
    EndpointChanged,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "InMemoryWebhookDeliveries",
    "InMemoryWebhookEndpoints",
    "RecordingSender",
    "SentWebhook",
    "deliveries_of",
    "webhook_storage",
]


class InMemoryWebhookEndpoints:
    """Webhook endpoints by id."""

    def __init__(self) -> None:
        self._endpoints: dict[str, WebhookEndpoint] = {}

    def add(self, endpoint: WebhookEndpoint) -> None:
        if endpoint.id in self._endpoints:
            raise Conflict(f"webhook endpoint {endpoint.id} exists")
        self._endpoints[endpoint.id] = endpoint

    def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self._endpoints.get(endpoint_id)

    def lock_merchant(self, merchant_id: str) -> None:
        """Nothing to do: the in-memory unit of work runs one at a time."""

    def save(self, endpoint: WebhookEndpoint) -> None:
        stored = self._endpoints.get(endpoint.id)
        if stored is not None and stored.row_version != endpoint.row_version:
            raise EndpointChanged(endpoint.id)
        self._endpoints[endpoint.id] = attrs.evolve(endpoint, row_version=endpoint.row_version + 1)

    def for_merchant(self, merchant_id: str) -> list[WebhookEndpoint]:
        found = [e for e in self._endpoints.values() if e.merchant_id == merchant_id]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    def enabled_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[WebhookEndpoint]:
        mine = (e for e in self._endpoints.values() if e.merchant_id == merchant_id and e.enabled)
        older = (e for e in mine if before is None or e.id < before)
        return sorted(older, key=lambda e: e.id, reverse=True)[:limit]


class InMemoryWebhookDeliveries:
    """Webhook deliveries by id, and their attempts (the delivery log)."""

    def __init__(self) -> None:
        self._deliveries: dict[str, WebhookDelivery] = {}
        self._attempts: list[WebhookAttempt] = []
        self._dead_lettered = 0

    def add(self, delivery: WebhookDelivery) -> None:
        pair = (delivery.event_id, delivery.endpoint_id)
        if delivery.id in self._deliveries or any(
            (d.event_id, d.endpoint_id) == pair for d in self._deliveries.values()
        ):
            raise Conflict(f"event {delivery.event_id} already has a delivery to endpoint {delivery.endpoint_id}")
        self.save(delivery)

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        return self._deliveries.get(delivery_id)

    def save(self, delivery: WebhookDelivery) -> None:
        before = self._deliveries.get(delivery.id)
        if delivery.status is DeliveryStatus.DEAD and (before is None or before.status is not DeliveryStatus.DEAD):
            self._dead_lettered += 1
        self._deliveries[delivery.id] = delivery

    def due(self, now: datetime, *, limit: int = 100) -> list[WebhookDelivery]:
        due = [d for d in self._deliveries.values() if d.is_due(now)]
        return sorted(due, key=lambda d: (d.next_attempt_at, d.id))[:limit]

    def add_attempt(self, attempt: WebhookAttempt) -> None:
        self._attempts.append(attempt)

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        return [a for a in self._attempts if a.delivery_id == delivery_id]

    def for_merchant(
        self,
        merchant_id: str,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[WebhookDelivery]:
        cursor = self._deliveries.get(before) if before is not None else None
        found = [
            d
            for d in self._deliveries.values()
            if d.merchant_id == merchant_id
            and (endpoint_id is None or d.endpoint_id == endpoint_id)
            and (status is None or d.status is status)
            and (before is None or (cursor is not None and (d.created_at, d.id) < (cursor.created_at, cursor.id)))
        ]
        return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)[:limit]

    def count(self, status: DeliveryStatus) -> int:
        return sum(1 for d in self._deliveries.values() if d.status is status)

    def dead_lettered(self) -> int:
        return self._dead_lettered

    def all(self) -> list[WebhookDelivery]:
        """Every delivery, oldest first (for tests)."""
        return sorted(self._deliveries.values(), key=lambda d: (d.created_at, d.id))

    def all_attempts(self) -> list[WebhookAttempt]:
        return list(self._attempts)


def webhook_storage() -> InMemoryStorage:
    """An in-memory unit of work offering the outbox and both webhook repositories."""
    return InMemoryStorage(webhook_endpoints=InMemoryWebhookEndpoints(), webhook_deliveries=InMemoryWebhookDeliveries())


def deliveries_of(storage: InMemoryStorage) -> InMemoryWebhookDeliveries:
    """The committed deliveries repository of ``storage``."""
    repository = storage.repositories["webhook_deliveries"]
    assert isinstance(repository, InMemoryWebhookDeliveries)
    return repository


@attrs.frozen
class SentWebhook:
    url: str
    headers: dict[str, str]
    body: bytes


class RecordingSender:
    """A ``WebhookSender`` that records every send and answers with ``answer(url)``: a status code or an error."""

    def __init__(self, answer: Callable[[str], int | Exception] = lambda url: 200) -> None:
        self._answer = answer
        self.sent: list[SentWebhook] = []

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        self.sent.append(SentWebhook(url, dict(headers), body))
        outcome = self._answer(url)
        if isinstance(outcome, Exception):
            raise outcome
        return WebhookResponse(outcome)

    @staticmethod
    def unreachable(url: str) -> Exception:
        """An ``answer`` for an endpoint that never answers."""
        return Unavailable(f"could not reach {url}: connection refused")
