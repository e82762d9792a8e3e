"""In-memory outbox and webhook repositories behind an all-or-nothing unit of work, plus recording senders.

>>> from datetime import datetime, timezone
>>> store = InMemoryWebhookStore()
>>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> with store.unit_of_work() as uow:
...     uow.outbox.add(OutboxMessage.new("out_1", "invoice.settled", {"merchant_id": "m1"}, at=at))
>>> [message.id for message in store.outbox_messages()]
['out_1']
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

import attrs
from cryptopay.core.errors import Conflict, Unavailable
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.webhooks import WebhookResponse, WebhookUnitOfWork
from cryptopay.core.webhooks.model import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = ["InMemoryWebhookStore", "RecordingSender", "SentWebhook"]


@attrs.define
class _State:
    outbox: dict[str, OutboxMessage] = attrs.Factory(dict)
    endpoints: dict[str, WebhookEndpoint] = attrs.Factory(dict)
    deliveries: dict[str, WebhookDelivery] = attrs.Factory(dict)
    attempts: list[WebhookAttempt] = attrs.Factory(list)


class _Outbox:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, message: OutboxMessage) -> None:
        if message.id in self._state.outbox:
            raise Conflict(f"outbox message {message.id} exists")
        self._state.outbox[message.id] = message

    def get(self, message_id: str) -> OutboxMessage | None:
        return self._state.outbox.get(message_id)

    def due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        due = [m for m in self._state.outbox.values() if m.is_due(now)]
        return sorted(due, key=lambda m: (m.created_at, m.id))[:limit]

    def save(self, message: OutboxMessage) -> None:
        self._state.outbox[message.id] = message


class _Endpoints:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, endpoint: WebhookEndpoint) -> None:
        if endpoint.id in self._state.endpoints:
            raise Conflict(f"webhook endpoint {endpoint.id} exists")
        self._state.endpoints[endpoint.id] = endpoint

    def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self._state.endpoints.get(endpoint_id)

    def save(self, endpoint: WebhookEndpoint) -> None:
        self._state.endpoints[endpoint.id] = endpoint

    def for_merchant(self, merchant_id: str) -> list[WebhookEndpoint]:
        found = [e for e in self._state.endpoints.values() if e.merchant_id == merchant_id]
        return sorted(found, key=lambda e: (e.created_at, e.id))


class _Deliveries:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, delivery: WebhookDelivery) -> None:
        pair = (delivery.event_id, delivery.endpoint_id)
        if delivery.id in self._state.deliveries or any(
            (d.event_id, d.endpoint_id) == pair for d in self._state.deliveries.values()
        ):
            raise Conflict(f"event {delivery.event_id} already has a delivery to endpoint {delivery.endpoint_id}")
        self._state.deliveries[delivery.id] = delivery

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        return self._state.deliveries.get(delivery_id)

    def save(self, delivery: WebhookDelivery) -> None:
        self._state.deliveries[delivery.id] = delivery

    def due(self, now: datetime, *, limit: int = 100) -> list[WebhookDelivery]:
        due = [d for d in self._state.deliveries.values() if d.is_due(now)]
        return sorted(due, key=lambda d: (d.next_attempt_at, d.id))[:limit]

    def add_attempt(self, attempt: WebhookAttempt) -> None:
        self._state.attempts.append(attempt)

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        return [a for a in self._state.attempts if a.delivery_id == delivery_id]

    def for_merchant(
        self,
        merchant_id: str,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[WebhookDelivery]:
        found = [
            d
            for d in self._state.deliveries.values()
            if d.merchant_id == merchant_id
            and (endpoint_id is None or d.endpoint_id == endpoint_id)
            and (status is None or d.status is status)
        ]
        return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)[:limit]


class _UnitOfWork:
    def __init__(self, state: _State) -> None:
        self.outbox = _Outbox(state)
        self.webhook_endpoints = _Endpoints(state)
        self.webhook_deliveries = _Deliveries(state)


class InMemoryWebhookStore:
    """The outbox and the webhook repositories; one transaction at a time, committed only when the block succeeds."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()

    @contextmanager
    def unit_of_work(self) -> Iterator[WebhookUnitOfWork]:
        with self._lock:
            working = copy.deepcopy(self._state)
            yield _UnitOfWork(working)
            self._state = working

    def outbox_messages(self) -> list[OutboxMessage]:
        return list(self._state.outbox.values())

    def deliveries(self) -> list[WebhookDelivery]:
        return list(self._state.deliveries.values())

    def attempts(self) -> list[WebhookAttempt]:
        return list(self._state.attempts)


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
        return WebhookResponse(outcome, "ok" if 200 <= outcome < 300 else "no")

    @staticmethod
    def unreachable(url: str) -> Exception:
        """An ``answer`` for an endpoint that never answers."""
        return Unavailable(f"could not reach {url}: connection refused")
