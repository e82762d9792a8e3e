"""The outbox relay: publish committed outbox messages to webhook deliveries and to queued jobs.

For each due message, in one transaction: enqueue the job its topic is routed to (job id ``outbox-<message id>``,
so a relay that dies before committing and runs again enqueues nothing new), create its webhook deliveries, and
mark it published. After the commit, nudge the new deliveries; a lost nudge is caught by the webhook sweep.
A message the queue cannot take now (``Unavailable``) is retried later; one it refuses for good (a payload that
is not JSON-safe) is parked with its error so it never blocks the ones behind it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta

import attrs
from cryptopay.core.errors import CryptopayError, Unavailable
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.queue import JobQueue, JsonValue
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.webhooks.model import WebhookDelivery
from cryptopay.core.webhooks.service import UowFactory, fan_out, nudge

__all__ = ["PARKED", "RELAY_JOB", "RelayReport", "relay_outbox"]

RELAY_JOB = "outbox.relay"
PARKED = timedelta(days=3650)  # a message that can never be published waits here for a person, not for a retry


@attrs.frozen
class RelayReport:
    """What one relay pass did."""

    published: int = 0
    routed: int = 0
    deliveries: tuple[str, ...] = ()
    failed: int = 0


def _route(message: OutboxMessage, queue: JobQueue, routes: Mapping[str, str]) -> bool:
    job_name = routes.get(message.topic)
    if job_name is None:
        return False
    data: dict[str, JsonValue] = {"event_id": message.id, "topic": message.topic, "data": message.payload}
    queue.enqueue(job_name, data, job_id=f"outbox-{message.id}")
    return True


def relay_outbox(
    *,
    uow_factory: UowFactory,
    queue: JobQueue,
    clock: Clock,
    ids: IdGenerator,
    routes: Mapping[str, str] | None = None,
    limit: int = 100,
    retry_after: timedelta = timedelta(seconds=30),
) -> RelayReport:
    """Publish up to ``limit`` due outbox messages; ``routes`` maps a topic to the job that consumes it."""
    published = routed = failed = 0
    created: list[WebhookDelivery] = []
    with uow_factory() as uow:
        for message in uow.outbox.due(clock.now(), limit=limit):
            try:
                was_routed = _route(message, queue, routes or {})
            except Unavailable as error:
                uow.outbox.save(message.failed(error.message, retry_at=clock.now() + retry_after))
                failed += 1
                continue
            except CryptopayError as error:
                uow.outbox.save(message.failed(f"parked: {error.message}", retry_at=clock.now() + PARKED))
                failed += 1
                continue
            created.extend(fan_out(uow, message, ids=ids, now=clock.now()))
            uow.outbox.save(message.published(clock.now()))
            published, routed = published + 1, routed + was_routed
    for delivery in created:
        with contextlib.suppress(Unavailable):  # the delivery is committed and due: the sweep will nudge it
            nudge(queue, delivery, clock.now())
    return RelayReport(published, routed, tuple(d.id for d in created), failed)
