"""The repeating-job schedule: one job per period, whoever enqueues it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.testing.queue import FakeQueue
from cryptopay.core.testing.system import ManualClock
from cryptopay_worker import CORE_JOBS, LEAD_JOBS, SCHEDULE, Daily, Every, build_registry, enqueue_due
from cryptopay_worker.services import WorkerServices

AT = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def test_a_period_has_one_job_id_and_the_next_period_another() -> None:
    """Every moment of a five-second period maps to the same job id; the next period to a new one."""
    entry = Every("outbox.relay", timedelta(seconds=5))
    ids = {entry.job_id(AT + timedelta(seconds=s)) for s in (0, 1, 4.9)}
    assert len(ids) == 1 and entry.job_id(AT + timedelta(seconds=5)) not in ids


def test_a_daily_job_is_due_from_its_local_time_once_a_day() -> None:
    """A 17:00 Nairobi job is not due at 13:59 UTC, due at 14:00 UTC, and keeps one id until midnight there."""
    entry = Daily("settlements.run", time(17, 0))
    assert entry.job_id(datetime(2026, 1, 5, 13, 59, tzinfo=UTC)) is None
    assert entry.job_id(datetime(2026, 1, 5, 14, 0, tzinfo=UTC)) == "daily-settlements_run-2026-01-05"
    assert entry.job_id(datetime(2026, 1, 5, 20, 59, tzinfo=UTC)) == "daily-settlements_run-2026-01-05"


def test_two_schedulers_enqueue_each_period_once_and_skip_jobs_without_handlers() -> None:
    """Two schedulers ticking over one period enqueue each known job once; unknown jobs are left out."""
    clock, registry = ManualClock(AT), JobRegistry()
    ran: list[str] = []
    registry.register("outbox.relay", lambda p: ran.append("relay"))
    queue = FakeQueue(registry, clock)
    for _ in range(2):
        enqueue_due(queue, SCHEDULE, clock.now(), known=registry)
    clock.advance(seconds=2)
    enqueue_due(queue, SCHEDULE, clock.now(), known=registry)
    queue.run_pending()
    assert ran == ["relay"]
    clock.advance(seconds=5)
    enqueue_due(queue, SCHEDULE, clock.now(), known=registry)
    queue.run_pending()
    assert ran == ["relay", "relay"]


def test_the_schedule_covers_every_recurring_job_and_the_registry_takes_the_lead_jobs() -> None:
    """Relay, sweep and every lead job repeat (planned payouts are picked up periodically); handlers join the worker's."""
    scheduled = {entry.job_name for entry in SCHEDULE}
    assert scheduled == set(CORE_JOBS) - {"webhooks.deliver"} | set(LEAD_JOBS)
    services = WorkerServices(None, None, None, ManualClock(), None, jobs={"fx.refresh": lambda p: None})  # type: ignore[arg-type]
    assert set(build_registry(services)) == set(CORE_JOBS) | {"fx.refresh"}


def test_a_worker_behind_the_schedule_finds_one_waiting_copy_of_each_repeating_job() -> None:
    """With no worker and the clock advancing a hundred periods, the queue holds one job per schedule entry."""
    clock, registry = ManualClock(AT), JobRegistry()
    for entry in SCHEDULE:
        registry.register(entry.job_name, lambda p: None)
    queue = FakeQueue(registry, clock)
    for _ in range(100):
        enqueue_due(queue, SCHEDULE, clock.now(), known=registry)
        clock.advance(seconds=5)
    assert sorted(job.job_name for job in queue.pending) == sorted(entry.job_name for entry in SCHEDULE)
