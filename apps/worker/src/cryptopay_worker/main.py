"""``cryptopay-worker``: an RQ worker for cryptopay's queues, with the repeating-job scheduler beside it.

Run one (or more) with the scheduler; with ``CRYPTOPAY_DARAJA_QUEUE=cryptopay-daraja`` the jobs that call Daraja
(``payouts.start``, ``payouts.query_status``) go to that queue, and one worker on it alone makes the M-Pesa calls one
at a time::

    cryptopay-worker --queue cryptopay
    cryptopay-worker --queue cryptopay-daraja --no-scheduler

The queue, its name and the routes come from the composition root (``CRYPTOPAY_REDIS_URL``, ``CRYPTOPAY_QUEUE_NAME``,
``CRYPTOPAY_DARAJA_QUEUE``); ``--redis-url`` serves a root that has no Redis configured.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

import attrs
import redis
from cryptopay.adapters.deployment import RedisKeys
from cryptopay.adapters.queue import InlineQueue, RqQueue
from cryptopay.core import logs
from cryptopay.core.errors import CryptopayError
from cryptopay.core.system import SystemClock

from cryptopay_worker.jobs import build_registry
from cryptopay_worker.schedule import SCHEDULE, Scheduler, fast
from cryptopay_worker.services import services, use_services

__all__ = ["main", "run_inline", "run_worker"]


def run_worker(
    redis_url: str,
    queues: Sequence[str] | None = None,
    *,
    with_scheduler: bool = True,
    burst: bool = False,
    fork: bool = True,
    fast_schedule: bool = False,
) -> bool:
    """Work the queues until stopped (or, with ``burst``, until they are empty); True if any job ran.

    The jobs' queue becomes an ``RqQueue`` on ``redis_url`` unless the services already hold one.
    ``with_scheduler`` also runs our repeating-job scheduler. RQ's scheduler (it moves the delayed jobs and retry
    waits of these queues onto them when due; one worker per queue holds it) runs in every worker: RQ keeps a
    retry on the queue the job ran on, so a queue whose workers all ran none (the Daraja worker, started
    ``--no-scheduler``) kept its jobs' retries (``payouts.start``, ``payouts.query_status``) forever.
    """
    current = services()
    namespace = RedisKeys.from_env(os.environ).queue_namespace
    queue = (
        current.queue
        if isinstance(current.queue, RqQueue)
        else RqQueue(redis.Redis.from_url(redis_url), namespace=namespace)
    )
    use_services(attrs.evolve(current, queue=queue))
    registry = build_registry(services())
    schedule = fast(SCHEDULE) if fast_schedule else SCHEDULE
    scheduler = Scheduler(queue, SystemClock(), schedule=schedule, known=registry) if with_scheduler else None
    if scheduler is not None and not burst:
        scheduler.start()
    try:
        worker = queue.worker(registry, queue_names=queues or None, fork=fork)
        return bool(worker.work(burst=burst, with_scheduler=True, logging_level="INFO"))
    finally:
        if scheduler is not None:
            scheduler.stop()


def run_inline(*, fast_schedule: bool = False, stop: threading.Event | None = None) -> None:
    """The embedded mode (no Redis): jobs run on an in-process queue, fed by the repeating-job scheduler."""
    registry = build_registry(services())
    queue = InlineQueue(registry)
    use_services(attrs.evolve(services(), queue=queue))
    schedule = fast(SCHEDULE) if fast_schedule else SCHEDULE
    scheduler = Scheduler(queue, SystemClock(), schedule=schedule, known=registry, tick=0.5 if fast_schedule else 1.0)
    stopped = stop or threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    scheduler.start()
    try:
        stopped.wait()
    finally:
        scheduler.stop()
        queue.close()


def _preflight() -> str | None:
    """The settings, the vault's KEKs and the PII lookup key checked before any job runs (what the wiring reads
    first): a refusal is one line naming the variable and exit 2, not a traceback per job. ``None``: all good;
    what production runs without but should not (``Settings.cautions``) is logged as a warning."""
    from cryptopay.adapters.bootstrap import Settings

    try:
        settings = Settings.from_env()
        settings.check_keys()
    except CryptopayError as refused:
        return refused.message
    for caution in settings.cautions():
        logging.getLogger("cryptopay.worker").warning("%s", caution)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """The console entry point."""
    parser = argparse.ArgumentParser(prog="cryptopay-worker", description="Run cryptopay background jobs (RQ).")
    default_redis = os.environ.get("CRYPTOPAY_REDIS_URL") or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--redis-url",
        default=default_redis,
        help="the Redis of the queues (default: $CRYPTOPAY_REDIS_URL, else $REDIS_URL, else redis://127.0.0.1:6379/0)",
    )
    parser.add_argument("--queue", action="append", dest="queues", help="a queue to work (repeatable)")
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not enqueue the repeating jobs in this worker (delayed jobs and retries still run)",
    )
    parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    parser.add_argument("--inline", action="store_true", help="no Redis: run jobs in this process (embedded mode)")
    parser.add_argument("--fast", action="store_true", help="payment jobs each second (demo/sandbox)")
    parser.add_argument("--no-fork", action="store_true", help="run RQ jobs in the worker process (no fork per job)")
    args = parser.parse_args(argv)
    refused = _preflight()
    if refused:
        print(f"cryptopay-worker: {refused}", file=sys.stderr)
        return 2
    logs.configure(structured=not args.inline)  # RQ workers: JSON lines with job ids; redacted either way
    if args.inline:
        run_inline(fast_schedule=args.fast)
        return 0
    run_worker(
        args.redis_url,
        args.queues,
        with_scheduler=not args.no_scheduler,
        burst=args.burst,
        fork=not args.no_fork,
        fast_schedule=args.fast,
    )
    return 0
