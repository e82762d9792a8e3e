"""What the jobs need, resolved once per worker process: ``services()``.

The composition root (``cryptopay.adapters.bootstrap``) builds the real thing; tests and embedders hand the
worker their own with ``use_services``. ``from_container`` reads any object with the attributes named in
``WorkerServices`` (extra ones are ignored; ``jobs`` and ``outbox_routes`` are optional).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import attrs
from cryptopay.core.ports.queue import JobHandler, JobQueue
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.webhooks import WebhookSender
from cryptopay.core.webhooks import DEFAULT_LEASE, RETRY_SCHEDULE, UowFactory

__all__ = ["WorkerServices", "reset_services", "services", "use_services"]


@attrs.frozen
class WorkerServices:
    """The ports the worker's own jobs use, plus the lead's use-case jobs by name (``jobs``)."""

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
    def from_container(cls, container: Any) -> WorkerServices:
        """Adapt the composition root's container (duck-typed: it cannot import this app)."""
        names = [field.name for field in attrs.fields(cls)]
        return cls(**{name: getattr(container, name) for name in names if hasattr(container, name)})


_services: WorkerServices | None = None


def use_services(services_: WorkerServices) -> None:
    """Make ``services_`` what every job in this process uses."""
    global _services
    _services = services_


def reset_services() -> None:
    global _services
    _services = None


def services() -> WorkerServices:
    """The worker's services: the ones handed to ``use_services``, else built by the composition root."""
    global _services
    if _services is None:
        _services = _from_bootstrap()
    return _services


def _from_bootstrap() -> WorkerServices:
    # The composition root is expected to offer ``worker_container()`` returning an object with the
    # WorkerServices attributes (the lead wires it: cryptopay.adapters.bootstrap).
    try:
        bootstrap = importlib.import_module("cryptopay.adapters.bootstrap")
    except ImportError:
        raise RuntimeError(
            "the worker's services are not wired: cryptopay.adapters.bootstrap is missing; "
            "call cryptopay_worker.use_services(WorkerServices(...)) first"
        ) from None
    return WorkerServices.from_container(bootstrap.worker_container())
