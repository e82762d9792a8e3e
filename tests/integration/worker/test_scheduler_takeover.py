"""A worker takes over RQ's scheduler soon after the worker that ran it died, so delayed jobs still run.

RQ's scheduler runs in the worker holding ``rq:scheduler-lock:<queue>`` (a 61 s TTL, refreshed each second). The
dead owner is simulated by that lock left in Redis with its TTL, as a SIGKILLed worker leaves it: the worker under
test starts while it is held (so runs no scheduler), and a job delayed by two seconds must still run once the lock
has expired (here one left with 8 s to live), within its TTL + ``SCHEDULER_CHECK`` and some slack, not at RQ's
10-minute maintenance.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from cryptopay.adapters.queue import RqQueue
from cryptopay.adapters.queue.rq import SCHEDULER_CHECK
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.adapters.webhooks import HttpxWebhookSender
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay_worker import WorkerServices, run_worker, use_services
from cryptopay_worker.services import reset_services
from rq.scheduler import RQScheduler

from tests.support.queue_harness import cleanup_rq

pytestmark = [pytest.mark.redis, pytest.mark.slow]

# RQ's lock lives 61 s (its interval, 1 s, + 60); a lock found with 8 s left is one whose owner died 53 s ago: the
# same takeover, without the suite waiting a minute for it (RQ's own 10-minute maintenance is far past the bound)
LOCK_TTL = 8
BOUND = LOCK_TTL + SCHEDULER_CHECK.total_seconds() + 10


def _work(redis_url: str, queue_name: str, token: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    registry = JobRegistry()
    registry.register("test.mark", lambda payload: connection.set(f"{token}-ran", str(time.time()), ex=600))
    RqQueue(connection, queue_name=queue_name).worker(registry, fork=False).work(
        with_scheduler=True, logging_level="WARNING"
    )


@pytest.fixture
def names(redis_url: str) -> Iterator[tuple[str, str]]:
    token = f"takeover{time.time_ns()}"
    queue_name = f"test-{token}"
    yield queue_name, token
    cleanup_rq(redis.Redis.from_url(redis_url), [queue_name], token)


def test_a_worker_takes_over_the_scheduler_a_dead_worker_left(redis_url: str, names: tuple[str, str]) -> None:
    queue_name, token = names
    connection = redis.Redis.from_url(redis_url)
    lock = RQScheduler.get_locking_key(queue_name)
    assert connection.set(lock, "a-scheduler-killed-with-its-worker", ex=LOCK_TTL, nx=True)
    left_at = time.monotonic()
    worker = multiprocessing.get_context("fork").Process(target=_work, args=(redis_url, queue_name, token))
    worker.start()
    try:
        RqQueue(connection, queue_name=queue_name).enqueue("test.mark", {}, delay=timedelta(seconds=2))
        while not connection.get(f"{token}-ran"):
            waited = time.monotonic() - left_at
            assert waited < BOUND, f"no worker ran the delayed job {waited:.0f} s after the scheduler's owner died"
            assert worker.is_alive(), "the worker exited"
            time.sleep(0.5)
        ran_after = time.monotonic() - left_at
        assert ran_after >= LOCK_TTL - 1, "the job ran while the dead scheduler's lock was still held"
        assert connection.get(lock) not in (None, b"a-scheduler-killed-with-its-worker")  # the worker's now
    finally:
        if worker.pid is not None and worker.is_alive():
            os.kill(worker.pid, signal.SIGTERM)  # a warm stop: RQ stops its scheduler process and frees the lock
        worker.join(20)
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGKILL)
            worker.join(5)


def test_a_worker_started_without_the_scheduler_still_runs_its_queues_delayed_jobs(
    redis_url: str, names: tuple[str, str], tmp_path
) -> None:
    """The Daraja worker runs ``--no-scheduler``; RQ keeps a job's retry on the job's own queue, so that worker must
    still move its queue's due delayed jobs (a ``payouts.start`` retry), or nobody does."""
    queue_name, token = names
    connection = redis.Redis.from_url(redis_url)
    queue = RqQueue(connection, queue_name=queue_name)
    queue.enqueue("test.mark", {}, delay=timedelta(seconds=1))  # as RQ schedules a retry after its wait
    time.sleep(2.5)  # due now
    use_services(
        WorkerServices(
            uow_factory=SqlStorage(make_engine(f"sqlite:///{tmp_path}/unused.db")).unit_of_work,
            queue=queue,
            webhook_sender=HttpxWebhookSender(),
            clock=SystemClock(),
            ids=RandomIds(),
            jobs={"test.mark": lambda payload: connection.set(f"{token}-ran", "1", ex=600)},
        )
    )
    try:
        run_worker(redis_url, [queue_name], with_scheduler=False, burst=True, fork=False)
    finally:
        reset_services()
    assert connection.get(f"{token}-ran") == b"1"
