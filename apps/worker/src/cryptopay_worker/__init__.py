"""cryptopay background jobs (RQ): job handlers, the schedule table, and the ``cryptopay-worker`` command.

Wiring: the worker takes the composition root's ``Services`` (``cryptopay.adapters.bootstrap.load()``, read as
``WorkerServices.of(services)``), or a caller passes ``use_services(WorkerServices(...))``; ``build_registry``
registers the worker's own jobs plus the use-case ``jobs``; ``run_worker`` works the RQ queues with the schedulers
beside it.
"""

from cryptopay_worker.jobs import CORE_JOBS, LEAD_JOBS, build_registry
from cryptopay_worker.main import main, run_worker
from cryptopay_worker.schedule import SCHEDULE, Daily, Every, Scheduler, enqueue_due
from cryptopay_worker.services import WorkerServices, reset_services, services, use_services

__all__ = [
    "CORE_JOBS",
    "LEAD_JOBS",
    "SCHEDULE",
    "Daily",
    "Every",
    "Scheduler",
    "WorkerServices",
    "build_registry",
    "enqueue_due",
    "main",
    "reset_services",
    "run_worker",
    "services",
    "use_services",
]
