"""Failed jobs counted where they fail, on the real Redis with real RQ workers: a job raising in a forked work-horse,
a work-horse killed under its job, a job abandoned by a dead worker and found by a cleanup in another process (as
``rq info`` does), and, through the composition root, a dead job requeued before the measure still counted in
``cryptopay_job_failures_total`` (what ``CryptopayJobsDead`` alerts on) while ``cryptopay_jobs_dead`` drops to 0."""

from __future__ import annotations

import multiprocessing
import os
import secrets
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.adapters.queue import RqQueue
from cryptopay.core.ports.queue import JobRegistry
from rq import Queue
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from tests.support.queue_harness import NO_WAIT, cleanup_rq
from tests.support.sql_backends import migrated_sqlite

pytestmark = pytest.mark.redis


@pytest.fixture
def token() -> str:
    return f"fc{secrets.token_hex(4)}"


@pytest.fixture
def connection(redis_url: str, token: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    cleanup_rq(client, [f"test-{token}", f"{token}:cryptopay", f"{token}:daraja"], token)
    client.close()


def _counts(queue: RqQueue) -> tuple[int, int, int]:
    (failed,) = queue.failures()
    return failed.retried, failed.dead, queue.dead_count()


def test_a_forking_worker_counts_jobs_that_raise_and_work_horses_killed_under_their_job(
    connection: redis.Redis, token: str
) -> None:
    """In RQ's forking worker a job that raises fails in the work-horse, and a work-horse killed by SIGKILL (the OOM
    killer, ``kill -9``) fails in the worker that watched it: both are counted, each attempt as retried until the last,
    which is dead."""
    registry = JobRegistry()
    registry.register("test.raises", lambda payload: 1 / 0)
    registry.register("test.killed", lambda payload: os.kill(os.getpid(), signal.SIGKILL))
    queue = RqQueue(connection, queue_name=f"test-{token}", retries=NO_WAIT)
    queue.enqueue("test.raises", {}, job_id=f"{token}-raises")
    queue.worker(registry, fork=True).work(burst=True, with_scheduler=True, logging_level="WARNING")
    assert _counts(queue) == (2, 1, 1)
    queue.enqueue("test.killed", {}, job_id=f"{token}-killed")
    queue.worker(registry, fork=True).work(burst=True, with_scheduler=True, logging_level="WARNING")
    assert _counts(queue) == (4, 2, 2)
    (killed,) = [job for job in queue.dead_jobs() if job.job_name == "test.killed"]
    assert "terminated unexpectedly" in killed.error


def _stalling_worker(redis_url: str, queue_name: str, flag: str) -> None:
    """A worker (in a child process, killed by the test) whose job stalls after saying it started."""
    client = redis.Redis.from_url(redis_url)
    registry = JobRegistry()
    registry.register("test.stalls", lambda payload: (client.set(flag, 1), time.sleep(60)))
    RqQueue(client, queue_name=queue_name, retries=()).worker(registry, fork=False).work(burst=True)


def test_a_job_abandoned_by_a_dead_worker_is_counted_by_whichever_process_cleans_it_up(
    connection: redis.Redis, redis_url: str, token: str
) -> None:
    """A worker killed mid-job leaves its job started; RQ's cleanup of the started jobs, here run bare in the test
    process as ``rq info`` runs it (no worker, no exception handler of ours), calls the job's failure callback,
    which counts it: dead, as it had no retry left."""
    queue_name = f"test-{token}"
    queue = RqQueue(connection, queue_name=queue_name, retries=())
    queue.enqueue("test.stalls", {}, job_id=f"{token}-stalls")
    flag = f"{token}-started"
    worker = multiprocessing.get_context("fork").Process(target=_stalling_worker, args=(redis_url, queue_name, flag))
    worker.start()
    deadline = time.monotonic() + 15
    while not connection.get(flag):
        assert time.monotonic() < deadline and worker.is_alive(), "the worker never started its job"
        time.sleep(0.05)
    os.kill(worker.pid or 0, signal.SIGKILL)
    worker.join(5)
    assert _counts(queue) == (0, 0, 0)
    rq_queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    StartedJobRegistry(queue=rq_queue).cleanup(timestamp=time.time() + 3600)  # the dead worker's heartbeat lapsed
    assert _counts(queue) == (0, 1, 1)


def test_a_dead_job_requeued_before_the_measure_is_still_counted_in_business_prom(
    connection: redis.Redis, redis_url: str, token: str, tmp_path: Path
) -> None:
    """Wired by the composition root: a job dies, an operator requeues it and it succeeds, all before the minute's
    ``metrics.measure``. The dead-jobs gauge reads 0, as nothing is kept, but the failure counter the alert's
    ``increase()`` reads says 1 dead on that queue (the gauge's change, which the alert used to read, says 0)."""
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path / "data"),
        "CRYPTOPAY_REDIS_URL": redis_url,
        "CRYPTOPAY_DEPLOYMENT": token,
    }
    migrated_sqlite(env)
    services = build(Settings.from_env(env))
    try:
        broken = {"on": True}

        def flaky(payload: object) -> None:
            if broken["on"]:
                raise RuntimeError("the node is down")

        registry = JobRegistry()
        registry.register("test.flaky", flaky)
        worker_queue = RqQueue(connection, queue_name=services.settings.queue_name, namespace=token, retries=())
        worker_queue.enqueue("test.flaky", {}, job_id="flaky-1")
        worker_queue.worker(registry, fork=False).work(burst=True, logging_level="WARNING")
        assert [job.job_id for job in services.dead_jobs.list_dead()] == ["flaky-1"]
        broken["on"] = False
        services.dead_jobs.requeue("flaky-1", actor="ops:test")
        worker_queue.worker(registry, fork=False).work(burst=True, logging_level="WARNING")
        assert services.dead_jobs.list_dead() == []

        services.jobs["metrics.measure"]({})
        text = (tmp_path / "data" / "metrics" / "business.prom").read_text()
        queue = services.settings.queue_name
        assert "cryptopay_jobs_dead 0" in text.splitlines()
        assert "# TYPE cryptopay_job_failures_total counter" in text
        assert f'cryptopay_job_failures_total{{outcome="dead",queue="{queue}"}} 1' in text.splitlines()
        assert f'cryptopay_job_failures_total{{outcome="retried",queue="{queue}"}} 0' in text.splitlines()
    finally:
        services.close()


def test_the_dead_job_count_leaves_out_expired_entries_rq_has_not_removed_yet(
    connection: redis.Redis, token: str
) -> None:
    """RQ removes a dead job from its failed registry only when a cleanup runs after ``dead_ttl``; until then the
    entry is still in the sorted set, but it is not counted (its score, the expiry time, is past)."""
    registry = JobRegistry()
    registry.register("test.raises", lambda payload: 1 / 0)
    queue = RqQueue(connection, queue_name=f"test-{token}", retries=(), dead_ttl=timedelta(seconds=5))
    for n in range(2):
        queue.enqueue("test.raises", {}, job_id=f"{token}-{n}")
    queue.worker(registry, fork=False).work(burst=True, logging_level="WARNING")
    assert queue.dead_count() == 2
    time.sleep(5.1)  # past the entries' expiry (5 s: a loaded machine took over 1 s from failing to counting)
    key = f"rq:failed:test-{token}"
    assert connection.zcard(key) == 2 and queue.dead_count() == 0
    assert _counts(queue)[:2] == (0, 2)  # the failures stay counted
