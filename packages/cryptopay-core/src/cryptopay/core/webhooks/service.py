"""Webhook use cases: fan an event out to endpoints, deliver with backoff, sweep lost jobs, redeliver by hand.

Each use case is a short transaction; the HTTP call happens between two of them, never inside one. The
delivery row is the source of truth and the queue only nudges it: a lost or duplicated job neither loses nor
doubles a delivery, because an attempt must first claim the row, and ``sweep_webhooks`` re-nudges overdue rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.queue import JobQueue
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.text import TextKind, checked_text
from cryptopay.core.webhooks.model import (
    DEFAULT_LEASE,
    DEFAULT_ROTATION_OVERLAP,
    PING_EVENT,
    RETRY_SCHEDULE,
    WEBHOOK_EVENTS,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookResponse,
    check_endpoint_url,
)
from cryptopay.core.webhooks.payloads import DEFAULT_PAYLOAD_VERSION, envelope
from cryptopay.core.webhooks.signing import generate_secret, signature_headers

if TYPE_CHECKING:  # the port imports this package's model; a run-time import here would be circular
    from cryptopay.core.ports.webhooks import WebhookSender, WebhookUnitOfWork

__all__ = [
    "DELIVER_JOB",
    "MAX_ENDPOINTS",
    "PAYLOAD_VERSION_HEADER",
    "SWEEP_JOB",
    "DuplicateEndpoint",
    "UowFactory",
    "attempt_duration",
    "create_endpoint",
    "deliver_webhook",
    "event_body",
    "fan_out",
    "nudge",
    "redeliver_webhook",
    "rotate_secret",
    "send_test_event",
    "sweep_webhooks",
    "update_endpoint",
]

MAX_ENDPOINTS = 10  # enabled webhook endpoints per merchant (CRYPTOPAY_WEBHOOK_MAX_ENDPOINTS)
DELIVER_JOB = "webhooks.deliver"
SWEEP_JOB = "webhooks.sweep"
# names the payload version of the body on every delivery (the body says it too from v2: ``"version": 2``)
PAYLOAD_VERSION_HEADER = "cryptopay-payload-version"

UowFactory = Callable[[], AbstractContextManager["WebhookUnitOfWork"]]


def event_body(message: OutboxMessage, version: int = DEFAULT_PAYLOAD_VERSION) -> str:
    """The JSON a merchant receives: ``{"type", "timestamp", "data"}`` (compact, keys sorted), ``data`` in payload
    ``version`` (``webhooks.payloads``: 1 amounts as strings, 2 the API's money objects)."""
    return envelope(message.topic, message.created_at.isoformat(), message.payload, version)


def fan_out(
    uow: WebhookUnitOfWork, message: OutboxMessage, *, ids: IdGenerator, now: datetime
) -> list[WebhookDelivery]:
    """Create one delivery per endpoint of the event's merchant that wants it (in the caller's transaction)."""
    merchant_id = message.payload.get("merchant_id")
    if message.topic not in WEBHOOK_EVENTS or not isinstance(merchant_id, str):
        return []
    bodies: dict[int, str] = {}
    deliveries = []
    for endpoint in uow.webhook_endpoints.for_merchant(merchant_id):
        if endpoint.wants(message.topic):
            version = endpoint.payload_version
            body = bodies.get(version)
            if body is None:  # one body per payload version, whatever the number of endpoints wanting it
                body = bodies[version] = event_body(message, version)
            delivery = WebhookDelivery.new(
                ids.new_id("whd"),
                endpoint.id,
                merchant_id,
                message.id,
                message.topic,
                body,
                at=now,
                payload_version=version,
            )
            uow.webhook_deliveries.add(delivery)
            deliveries.append(delivery)
    return deliveries


def nudge(queue: JobQueue, delivery: WebhookDelivery, now: datetime, *, suffix: str = "") -> None:
    """Ask the queue to attempt ``delivery`` when it is due; one job id per attempt keeps duplicates out."""
    delay = max(delivery.next_attempt_at - now, timedelta(0))
    job_id = f"webhook-{delivery.id}-{delivery.attempts}{suffix}"
    queue.enqueue(DELIVER_JOB, {"delivery_id": delivery.id}, job_id=job_id, delay=delay or None)


def _claim(
    uow_factory: UowFactory, delivery_id: str, now: datetime, lease: timedelta
) -> tuple[WebhookDelivery, WebhookEndpoint | None] | None:
    with uow_factory() as uow:
        delivery = uow.webhook_deliveries.get(delivery_id)
        if delivery is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        if not delivery.is_due(now):
            return None
        endpoint = uow.webhook_endpoints.get(delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            uow.webhook_deliveries.save(delivery.abandoned(now, "the endpoint was disabled or deleted"))
            return None
        claimed = delivery.claimed(now, lease)
        uow.webhook_deliveries.save(claimed)
        return claimed, endpoint


def _post(
    sender: WebhookSender, endpoint: WebhookEndpoint, delivery: WebhookDelivery, at: datetime
) -> tuple[WebhookResponse | None, str | None, int]:
    body = delivery.body.encode()
    current, *previous = endpoint.signing_secrets(at)
    signed = signature_headers(current, delivery.event_id, at, body, also=previous)
    headers = {"content-type": "application/json", PAYLOAD_VERSION_HEADER: str(delivery.payload_version), **signed}
    started = time.monotonic()
    try:
        response, error = sender.send(endpoint.url, headers, body), None
    except Unavailable as failure:
        response, error = None, failure.message
    return response, error, attempt_duration(int((time.monotonic() - started) * 1000), answered=response is not None)


def attempt_duration(elapsed_ms: int, *, answered: bool) -> int:
    """The time an attempt shows: an answer's in milliseconds; a failure's in whole seconds (rounded down), as
    sub-second timing of failures would tell open, closed and filtered ports apart (review R17)."""
    return elapsed_ms if answered else elapsed_ms // 1000 * 1000


def deliver_webhook(
    delivery_id: str,
    *,
    uow_factory: UowFactory,
    sender: WebhookSender,
    queue: JobQueue,
    clock: Clock,
    schedule: Sequence[timedelta] = RETRY_SCHEDULE,
    lease: timedelta = DEFAULT_LEASE,
) -> WebhookDelivery | None:
    """Make one attempt if the delivery is due; record it; schedule the next attempt or dead-letter it.

    Returns the delivery after the attempt, or None when there was nothing to do (not due, claimed elsewhere,
    already final, or abandoned because its endpoint is gone): a duplicate job is harmless.
    """
    claim = _claim(uow_factory, delivery_id, clock.now(), lease)
    if claim is None:
        return None
    delivery, endpoint = claim
    assert endpoint is not None
    sent_at = clock.now()
    response, error, duration_ms = _post(sender, endpoint, delivery, sent_at)
    status_code = response.status_code if response else None
    with uow_factory() as uow:
        current = uow.webhook_deliveries.get(delivery_id) or delivery
        after = current.after_attempt(
            clock.now(), ok=bool(response and response.ok), status_code=status_code, error=error, schedule=schedule
        )
        uow.webhook_deliveries.save(after)
        # Only the status and our own short reason are kept: never what the endpoint answered (#12.3).
        uow.webhook_deliveries.add_attempt(
            WebhookAttempt(delivery_id, after.attempts, sent_at, status_code, "", error, duration_ms)
        )
    if not after.status.final:
        nudge(queue, after, clock.now())
    return after


def sweep_webhooks(
    *,
    uow_factory: UowFactory,
    queue: JobQueue,
    clock: Clock,
    grace: timedelta = timedelta(minutes=1),
    limit: int = 500,
) -> int:
    """Re-nudge deliveries overdue by more than ``grace`` (their job was lost); the number nudged."""
    now = clock.now()
    with uow_factory() as uow:
        overdue = [d for d in uow.webhook_deliveries.due(now - grace, limit=limit) if d.is_due(now)]
    for delivery in overdue:
        nudge(queue, delivery, now, suffix=f"-sweep-{int(now.timestamp()) // 60}")
    return len(overdue)


def redeliver_webhook(
    delivery_id: str, *, merchant_id: str | None = None, uow_factory: UowFactory, queue: JobQueue, clock: Clock
) -> WebhookDelivery:
    """Send a delivered or dead delivery again (same event id and body) with a fresh retry schedule."""
    now = clock.now()
    with uow_factory() as uow:
        delivery = uow.webhook_deliveries.get(delivery_id)
        if delivery is None or (merchant_id is not None and delivery.merchant_id != merchant_id):
            raise NotFound(f"no webhook delivery {delivery_id}")
        again = delivery.redelivered(now)
        uow.webhook_deliveries.save(again)
    nudge(queue, again, now, suffix="-redeliver")
    return again


def create_endpoint(
    merchant_id: str,
    url: str,
    *,
    events: Sequence[str] = (),
    description: str = "",
    uow_factory: UowFactory,
    ids: IdGenerator,
    clock: Clock,
    allow_insecure: bool = False,
    max_endpoints: int = MAX_ENDPOINTS,
    created_by: str | None = None,
    payload_version: int = DEFAULT_PAYLOAD_VERSION,
) -> WebhookEndpoint:
    """Register a merchant endpoint with a fresh ``whsec_`` secret (shown to the merchant once, at creation);
    ``created_by`` is the user adding it (a member's endpoints are disabled when they leave the team);
    ``payload_version`` the shape of its bodies (``webhooks.payloads``; 1 unless asked).

    A merchant has at most ``max_endpoints`` enabled endpoints: each one is retried for days, so an unbounded
    number would let one merchant multiply our outgoing traffic.
    """
    _check_description(description)
    endpoint = WebhookEndpoint(
        ids.new_id("whe"),
        merchant_id,
        check_endpoint_url(url, allow_insecure=allow_insecure),
        generate_secret(),
        clock.now(),
        frozenset(events),
        description=description,
        created_by=created_by,
        payload_version=payload_version,  # checked by WebhookEndpoint's converter
    )
    with uow_factory() as uow:
        uow.webhook_endpoints.lock_merchant(merchant_id)  # a simultaneous creation waits, then sees this one
        enabled = sum(1 for existing in uow.webhook_endpoints.for_merchant(merchant_id) if existing.enabled)
        if enabled >= max_endpoints:
            raise InvalidInput(f"a merchant has at most {max_endpoints} webhook endpoints; delete one first")
        _refuse_duplicate_url(uow, merchant_id, endpoint.url)
        uow.webhook_endpoints.add(endpoint)
    return endpoint


class DuplicateEndpoint(Conflict):
    """The merchant already has an enabled endpoint at this URL (two would get every event twice, signed with
    different secrets: the shop could verify only one; reviewer9 R9-6)."""

    code = "duplicate_endpoint"


def _refuse_duplicate_url(uow: WebhookUnitOfWork, merchant_id: str, url: str) -> None:
    for existing in uow.webhook_endpoints.for_merchant(merchant_id):
        if existing.enabled and existing.url == url:
            raise DuplicateEndpoint(f"webhook endpoint {existing.id} already has this URL: change or delete that one")


def _enabled_endpoint(uow: WebhookUnitOfWork, endpoint_id: str, merchant_id: str) -> WebhookEndpoint:
    endpoint = uow.webhook_endpoints.get(endpoint_id)
    if endpoint is None or not endpoint.enabled or endpoint.merchant_id != merchant_id:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


@attrs.frozen
class EndpointChanges:
    """What an update changes; None leaves a field as it is; ``enabled=False`` disables (deletes) the endpoint."""

    url: str | None = None
    events: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None
    payload_version: int | None = None  # deliveries already made keep the body they were written with


def update_endpoint(
    endpoint_id: str,
    merchant_id: str,
    changes: EndpointChanges,
    *,
    uow_factory: UowFactory,
    allow_insecure: bool = False,
) -> WebhookEndpoint:
    """Change an enabled endpoint's URL (checked as at creation), event types, description or payload version, or
    disable it, in one transaction; the secret stays."""
    if changes.description is not None:
        _check_description(changes.description)
    url = None if changes.url is None else check_endpoint_url(changes.url, allow_insecure=allow_insecure)
    with uow_factory() as uow:
        endpoint = _enabled_endpoint(uow, endpoint_id, merchant_id)
        if url is not None and url != endpoint.url:
            uow.webhook_endpoints.lock_merchant(merchant_id)
            _refuse_duplicate_url(uow, merchant_id, url)
        updated = attrs.evolve(
            endpoint,
            url=endpoint.url if url is None else url,
            events=endpoint.events if changes.events is None else frozenset(changes.events),
            description=endpoint.description if changes.description is None else changes.description,
            enabled=changes.enabled is not False,
            payload_version=endpoint.payload_version if changes.payload_version is None else changes.payload_version,
        )
        uow.webhook_endpoints.save(updated)
    return updated


def rotate_secret(
    endpoint_id: str,
    merchant_id: str,
    *,
    uow_factory: UowFactory,
    clock: Clock,
    overlap: timedelta = DEFAULT_ROTATION_OVERLAP,
) -> WebhookEndpoint:
    """Give an endpoint a fresh secret; the old one signs too (a second signature) for ``overlap``, then stops."""
    with uow_factory() as uow:
        endpoint = _enabled_endpoint(uow, endpoint_id, merchant_id)
        rotated = endpoint.rotated(generate_secret(), clock.now(), overlap)
        uow.webhook_endpoints.save(rotated)
    return rotated


def send_test_event(
    endpoint_id: str, merchant_id: str, *, uow_factory: UowFactory, ids: IdGenerator, queue: JobQueue, clock: Clock
) -> WebhookDelivery:
    """Queue a ``ping`` event to one endpoint through the normal delivery path (it shows in the delivery log)."""
    now = clock.now()
    event_id = ids.new_id("evt")
    data = {"merchant_id": merchant_id, "endpoint_id": endpoint_id}
    with uow_factory() as uow:
        endpoint = _enabled_endpoint(uow, endpoint_id, merchant_id)
        version = endpoint.payload_version
        body = envelope(PING_EVENT, now.isoformat(), data, version)
        delivery = WebhookDelivery.new(
            ids.new_id("whd"), endpoint.id, merchant_id, event_id, PING_EVENT, body, at=now, payload_version=version
        )
        uow.webhook_deliveries.add(delivery)
    nudge(queue, delivery, now)
    return delivery


def _check_description(description: str) -> None:
    """An endpoint's description: at most 200 characters of free text (``TextKind.PROSE``), whichever shell it came
    through (review3 I17: the dashboard stored bidi overrides and control characters the API refuses)."""
    if len(description) > 200:
        raise InvalidInput("an endpoint description is at most 200 characters", field="description")
    checked_text(description, field="description", kind=TextKind.PROSE)
