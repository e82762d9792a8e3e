"""What the jobs need, resolved once per worker process: ``services()``.

The worker takes the composition root's ``Services`` (``cryptopay.adapters.bootstrap``) and reads its own view of
them, ``WorkerServices.of(services)``: the webhook storage, the queue (with the Daraja route when configured), the
sender, the use-case jobs and the outbox routes. Tests and embedders hand the worker their own with ``use_services``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.ports.queue import JobHandler, JobQueue
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.webhooks import WebhookSender
from cryptopay.core.webhooks import DEFAULT_LEASE, RETRY_SCHEDULE, UowFactory

if TYPE_CHECKING:
    from cryptopay.adapters.bootstrap import Services

__all__ = ["WorkerServices", "reset_services", "services", "use_services"]


@attrs.frozen
class WorkerServices:
    """The ports the worker's own jobs use, plus the use-case jobs by name (``jobs``)."""

    uow_factory: UowFactory  # a unit of work offering outbox, webhook_endpoints and webhook_deliveries
    queue: JobQueue
    webhook_sender: WebhookSender
    clock: Clock
    ids: IdGenerator
    jobs: Mapping[str, JobHandler] = attrs.field(factory=dict)  # chains.scan, fx.refresh, ... (see jobs.LEAD_JOBS)
    outbox_routes: Mapping[str, str] = attrs.field(factory=dict)  # outbox topic -> job name
    retry_schedule: Sequence[timedelta] = RETRY_SCHEDULE
    webhook_lease: timedelta = DEFAULT_LEASE  # how long a delivery attempt holds its claim
    sweep_grace: timedelta = timedelta(minutes=1)  # how overdue a delivery must be before the sweep re-nudges it

    @classmethod
    def of(cls, root: Services) -> WorkerServices:
        """The worker's view of the composition root's services."""
        return cls(
            uow_factory=root.webhooks_uow,
            queue=root.queue,
            webhook_sender=root.webhook_sender,
            clock=root.clock,
            ids=root.ids,
            jobs=root.jobs,
            outbox_routes=root.outbox_routes,
        )


_services: WorkerServices | None = None


def use_services(services_: WorkerServices) -> None:
    """Make ``services_`` what every job in this process uses."""
    global _services
    _services = services_


def reset_services() -> None:
    global _services
    _services = None


def services() -> WorkerServices:
    """The worker's services: the ones handed to ``use_services``, else the root's, built from the environment."""
    global _services
    if _services is None:
        from cryptopay.adapters.bootstrap import load

        _services = WorkerServices.of(load())
    return _services
