"""The schedule on RQ and the real Redis: a worker that falls behind finds no backlog of repeating jobs (review 3,
I5: ~1,000 copies of each after 20 minutes, event jobs waiting behind them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.testing.system import ManualClock
from cryptopay_worker import SCHEDULE, enqueue_due

from tests.support.queue_harness import harness

pytestmark = pytest.mark.redis


def test_a_hundred_periods_without_a_worker_leave_one_job_per_schedule_entry(redis_url: str) -> None:
    """The clock advances a hundred of the shortest periods with no worker: one job per entry waits, and an event
    job enqueued then is the only other one; once they have run, a tick a day later queues each of them again."""
    clock, registry = ManualClock(datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)), JobRegistry()
    ran: list[str] = []
    for entry in SCHEDULE:
        registry.register(entry.job_name, lambda p, name=entry.job_name: ran.append(name))
    registry.register("webhooks.deliver", lambda p: ran.append("webhooks.deliver"))
    with harness("rq", registry, redis_url) as rq:
        for _ in range(100):
            enqueue_due(rq.queue, SCHEDULE, clock.now(), known=registry)
            clock.advance(seconds=5)
        rq.queue.enqueue("webhooks.deliver", {"delivery": "whd_1"})
        assert sum(rq.queue.waiting().values()) == len(SCHEDULE) + 1
        rq.run()
        assert sorted(ran) == sorted([entry.job_name for entry in SCHEDULE] + ["webhooks.deliver"])
        clock.advance(days=1)
        enqueue_due(rq.queue, SCHEDULE, clock.now(), known=registry)
        assert sum(rq.queue.waiting().values()) == len(SCHEDULE)
