"""Queue harnesses for the contract and worker tests: one way to drive the fake, the inline and the RQ queue."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import redis
from cryptopay.adapters.queue import InlineQueue, RqQueue
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.testing.queue import FakeQueue
from cryptopay.core.testing.system import ManualClock
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

NO_WAIT = (timedelta(0), timedelta(0))  # two immediate retries: three attempts in all, everywhere


class Harness:
    """A queue plus the verbs a test needs: run due jobs, let time pass, name job ids uniquely."""

    kind = ""

    def __init__(self, registry: JobRegistry) -> None:
        self.registry = registry
        self.token = secrets.token_hex(4)

    def jid(self, name: str) -> str:
        return f"t{self.token}-{name}"

    def run(self) -> None:
        raise NotImplementedError

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeHarness(Harness):
    kind = "fake"

    def __init__(self, registry: JobRegistry) -> None:
        super().__init__(registry)
        self.clock = ManualClock()
        self.queue = FakeQueue(registry, self.clock, max_attempts=3)

    def run(self) -> None:
        self.queue.run_pending()

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)


class InlineHarness(Harness):
    kind = "inline"

    def __init__(self, registry: JobRegistry) -> None:
        super().__init__(registry)
        self.queue = InlineQueue(registry, retries=NO_WAIT)

    def run(self) -> None:
        assert self.queue.drain(timeout=10)


class RqHarness(Harness):
    kind = "rq"

    def __init__(self, registry: JobRegistry, redis_url: str, **options: object) -> None:
        super().__init__(registry)
        self.connection = redis.Redis.from_url(redis_url)
        self.queue_name = f"test-{self.token}"
        self.queue = RqQueue(self.connection, queue_name=self.queue_name, retries=NO_WAIT, **options)  # type: ignore[arg-type]

    def run(self) -> None:
        self.queue.worker(self.registry, fork=False).work(burst=True, with_scheduler=True, logging_level="WARNING")

    def cleanup(self) -> None:
        cleanup_rq(self.connection, self.queue.queue_names, self.token)


def cleanup_rq(connection: redis.Redis, queue_names: list[str], token: str) -> None:
    """Delete a test's queues, registries and jobs from the shared Redis."""
    job_ids: set[str] = set()
    for name in queue_names:
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        job_ids.update(queue.job_ids)
        for registry_class in (FinishedJobRegistry, FailedJobRegistry, ScheduledJobRegistry):
            job_ids.update(registry_class(queue=queue).get_job_ids())
    keys = [
        key
        for pattern in (f"*{token}*", *(f"rq:*{name}*" for name in queue_names))
        for key in connection.scan_iter(pattern, count=1000)
    ]
    for job_id in job_ids:
        keys.extend(connection.scan_iter(f"rq:*{job_id}*", count=1000))
    if keys:
        connection.delete(*set(keys))


@contextmanager
def harness(kind: str, registry: JobRegistry, redis_url: str | None = None) -> Iterator[Harness]:
    """A fresh harness of ``kind`` ("fake", "inline" or "rq"), cleaned up afterwards."""
    if kind == "fake":
        yield FakeHarness(registry)
    elif kind == "inline":
        inline = InlineHarness(registry)
        try:
            yield inline
        finally:
            inline.queue.close()
    else:
        assert redis_url is not None
        rq_harness = RqHarness(registry, redis_url)
        try:
            yield rq_harness
        finally:
            rq_harness.cleanup()
