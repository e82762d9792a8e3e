"""Webhook ports: the HTTP sender and the repositories of endpoints and deliveries (the delivery log).

``WebhookUnitOfWork`` is what the webhook use cases and the outbox relay need from one transaction: the outbox
and the two webhook repositories. The SQL unit of work offers these next to its other repositories.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from cryptopay.core.ports.storage import Outbox
from cryptopay.core.webhooks.model import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookResponse,
)

__all__ = [
    "WebhookDeliveries",
    "WebhookEndpoints",
    "WebhookResponse",
    "WebhookSender",
    "WebhookUnitOfWork",
]


class WebhookSender(Protocol):
    """POSTs one signed webhook; raises ``Unavailable`` when no answer came (refused, timed out, bad TLS)."""

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse: ...


class WebhookEndpoints(Protocol):
    def add(self, endpoint: WebhookEndpoint) -> None: ...

    def get(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    def save(self, endpoint: WebhookEndpoint) -> None:
        """Write ``endpoint`` over the stored row if nobody changed it since it was read (its ``row_version``; a
        new id is inserted); ``EndpointChanged`` (a ``Conflict``) if another write came first, and nothing is
        written: read it again to write again (review11 R11-3)."""
        ...

    def for_merchant(self, merchant_id: str) -> list[WebhookEndpoint]:
        """The merchant's endpoints, enabled or not, oldest first."""
        ...

    def enabled_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[WebhookEndpoint]:
        """One page of the merchant's enabled endpoints, newest first (by id), strictly older than ``before``."""
        ...

    def lock_merchant(self, merchant_id: str) -> None:
        """Until the transaction ends, hold off any other that locks the same merchant's endpoints (one adding an
        endpoint or changing a URL), so the checks made after it (one endpoint per URL, the cap) see each other's
        writes (reader2 M-3: two simultaneous creations made two endpoints at one URL)."""
        ...


class WebhookDeliveries(Protocol):
    def add(self, delivery: WebhookDelivery) -> None:
        """Store a new delivery; a second delivery of the same event to the same endpoint is a ``Conflict``."""
        ...

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        """The delivery, locked for update until the transaction ends."""
        ...

    def save(self, delivery: WebhookDelivery) -> None: ...

    def due(self, now: datetime, *, limit: int = 100) -> list[WebhookDelivery]:
        """Pending or retrying deliveries whose time has come and whose claim (if any) has lapsed, oldest first."""
        ...

    def add_attempt(self, attempt: WebhookAttempt) -> None: ...

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        """The delivery's attempts in the order they were made."""
        ...

    def for_merchant(
        self,
        merchant_id: str,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[WebhookDelivery]:
        """The merchant's delivery log, newest first (by creation time, then id); with ``before`` (a delivery id,
        the cursor of the previous page), only deliveries older than that one."""
        ...

    def count(self, status: DeliveryStatus) -> int:
        """How many deliveries (of every merchant) are in ``status``: the dead letters kept now."""
        ...

    def dead_lettered(self) -> int:
        """How many times a delivery became dead, ever: ``add`` of a dead delivery or ``save`` of one that was not
        dead before (or not stored) counts one, in the same transaction. A redelivery does not lower it, so a
        delivery dead-lettered, redelivered and dead-lettered again counts two; the operator's alert is its
        ``increase()``."""
        ...


class WebhookUnitOfWork(Protocol):
    """One transaction over the outbox and the webhook repositories."""

    @property
    def outbox(self) -> Outbox: ...

    @property
    def webhook_endpoints(self) -> WebhookEndpoints: ...

    @property
    def webhook_deliveries(self) -> WebhookDeliveries: ...
