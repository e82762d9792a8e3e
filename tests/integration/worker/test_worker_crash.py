"""A worker process killed with SIGKILL mid-job or mid-relay loses and duplicates nothing.

The outbox lives in PostgreSQL, the jobs in Redis, and the effects at a local HTTP receiver that applies each
event id once. Worker 1 runs in a child process and is killed at a chosen point; RQ's abandoned-job cleanup
(run with the clock moved past the dead worker's heartbeat) requeues its job, and worker 2 finishes the work.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import redis
from cryptopay.adapters.queue import RqQueue
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.adapters.webhooks import HttpxWebhookSender
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay_worker import WorkerServices, run_worker, use_services
from cryptopay_worker.jobs import OUTBOX_RELAY
from rq import Queue
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from tests.support.queue_harness import cleanup_rq
from tests.support.sql_backends import postgres_database

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

TOPIC, EFFECT_JOB, EVENTS = "test.effect", "test.apply_effect", 3


def apply_effect(payload) -> None:
    """The routed job: tell the receiver about the event (keyed by its id), then stall if this run is the victim."""
    event_id = str(payload["event_id"])
    httpx.post(os.environ["CP_TEST_RECEIVER"], headers={"idempotency-key": event_id}, content=b"{}", timeout=5)
    if os.environ.get("CP_TEST_STALL") == "job":
        connection = redis.Redis.from_url(os.environ["CP_TEST_REDIS"])
        if connection.set(f"{os.environ['CP_TEST_TOKEN']}-stalled", event_id, nx=True):
            time.sleep(60)  # the test kills us here, after the effect and before RQ records the job as done


class StallingQueue(RqQueue):
    """Stalls the relay after it enqueued its second job and before it commits (the kill point)."""

    def enqueue(self, job_name, payload, *, job_id=None, delay=None):
        enqueued = super().enqueue(job_name, payload, job_id=job_id, delay=delay)
        connection = redis.Redis.from_url(os.environ["CP_TEST_REDIS"])
        token = os.environ["CP_TEST_TOKEN"]
        if (
            job_name == EFFECT_JOB
            and connection.incr(f"{token}-enqueued") == 2
            and os.environ.get("CP_TEST_STALL") == "relay"
        ):
            connection.set(f"{token}-stalled", "relay")
            time.sleep(60)
        return enqueued


def _services(db_url: str, redis_url: str, queue_name: str, queue_class=RqQueue) -> WorkerServices:
    return WorkerServices(
        uow_factory=SqlStorage(make_engine(db_url)).unit_of_work,
        queue=queue_class(redis.Redis.from_url(redis_url), queue_name=queue_name, retries=[timedelta(0)]),
        webhook_sender=HttpxWebhookSender(allow_loopback=True),
        clock=SystemClock(),
        ids=RandomIds(),
        jobs={EFFECT_JOB: apply_effect},
        outbox_routes={TOPIC: EFFECT_JOB},
    )


def _worker_process(db_url: str, redis_url: str, queue_name: str) -> None:
    queue_class = StallingQueue if os.environ.get("CP_TEST_STALL") == "relay" else RqQueue
    use_services(_services(db_url, redis_url, queue_name, queue_class))
    run_worker(redis_url, [queue_name], with_scheduler=False, burst=True, fork=False)


@pytest.fixture
def crash_db(postgres_admin_url: str) -> Iterator[str]:
    with postgres_database(postgres_admin_url, "cryptopay_worker") as url:
        yield url


@pytest.mark.parametrize("kill_point", ["job", "relay"])
def test_a_worker_killed_mid_work_loses_and_duplicates_nothing(
    kill_point: str, crash_db: str, redis_url: str, receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after an effect (job) or between enqueue and commit (relay), every event is applied exactly once."""
    token = f"crash{time.time_ns()}"
    queue_name = f"test-{token}"
    for key, value in {"RECEIVER": receiver.url, "REDIS": redis_url, "TOKEN": token, "STALL": kill_point}.items():
        monkeypatch.setenv(f"CP_TEST_{key}", value)
    connection = redis.Redis.from_url(redis_url)
    services = _services(crash_db, redis_url, queue_name)
    messages = [OutboxMessage.new(f"out_{token}_{n}", TOPIC, {"n": n}, at=services.clock.now()) for n in range(EVENTS)]
    with services.uow_factory() as uow:
        for message in messages:
            uow.outbox.add(message)
    try:
        RqQueue(connection, queue_name=queue_name, retries=[timedelta(0)]).enqueue(
            OUTBOX_RELAY, {}, job_id=f"{token}-relay"
        )
        worker = multiprocessing.get_context("fork").Process(
            target=_worker_process, args=(crash_db, redis_url, queue_name)
        )
        worker.start()
        deadline = time.monotonic() + 15
        while not connection.get(f"{token}-stalled"):
            assert time.monotonic() < deadline and worker.is_alive(), "worker 1 never reached the kill point"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(5)

        rq_queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
        StartedJobRegistry(queue=rq_queue).cleanup(timestamp=time.time() + 3600)  # the dead worker's heartbeat lapsed
        monkeypatch.setenv("CP_TEST_STALL", "")
        use_services(_services(crash_db, redis_url, queue_name))
        run_worker(redis_url, [queue_name], with_scheduler=False, burst=True, fork=False)

        applied = receiver.ids()
        assert sorted(set(applied)) == sorted(m.id for m in messages)  # nothing lost
        with services.uow_factory() as uow:
            assert uow.outbox.due(services.clock.now()) == []  # every message published
        if kill_point == "relay":
            assert sorted(applied) == sorted(m.id for m in messages)  # the re-run relay enqueued no duplicate
        else:
            assert len(applied) == EVENTS + 1  # the victim's effect was re-sent once; its id lets the receiver dedupe
        assert services.queue.dead_jobs() == []
    finally:
        cleanup_rq(connection, [queue_name], token)
