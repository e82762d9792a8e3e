"""An in-memory ``JobQueue`` that runs nothing until told to: deterministic jobs for tests.

>>> from cryptopay.core.ports.queue import JobRegistry
>>> from cryptopay.core.testing.system import ManualClock
>>> seen = []
>>> registry = JobRegistry()
>>> registry.register("note", lambda payload: seen.append(payload["text"]))
>>> queue = FakeQueue(registry, ManualClock())
>>> queue.enqueue("note", {"text": "a"}, job_id="n1").created, queue.enqueue("note", {"text": "a"}, job_id="n1").created
(True, False)
>>> queue.run_pending(), seen
(1, ['a'])
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import attrs
from cryptopay.core.ports.queue import (
    EnqueuedJob,
    FailedJob,
    JobFailures,
    JobRegistry,
    JsonValue,
    Payload,
    check_job_id,
    check_payload,
)
from cryptopay.core.ports.system import Clock

__all__ = ["FakeQueue", "QueuedJob"]


@attrs.define
class QueuedJob:
    job_id: str
    job_name: str
    payload: dict[str, JsonValue]
    run_at: datetime
    attempts: int = 0


class FakeQueue:
    """Jobs wait until ``run_pending``; a failing job is retried up to ``max_attempts`` times, then dead-lettered."""

    def __init__(self, registry: JobRegistry, clock: Clock, *, max_attempts: int = 3) -> None:
        self._registry = registry
        self._clock = clock
        self._max_attempts = max_attempts
        self._ids = itertools.count(1)
        self._known: set[str] = set()
        self._coalesced: dict[str, str] = {}  # job name -> the id of its last coalescing job
        self.pending: list[QueuedJob] = []
        self.dead: dict[str, FailedJob] = {}
        self.runs: list[tuple[str, str]] = []  # (job_id, job_name) of every run, successful or not
        self.failed = JobFailures("fake")  # failed attempts, only growing

    def enqueue(
        self,
        job_name: str,
        payload: Payload,
        *,
        job_id: str | None = None,
        delay: timedelta | None = None,
        coalesce: bool = False,
    ) -> EnqueuedJob:
        data = check_payload(payload)
        the_id = check_job_id(job_id) if job_id is not None else f"job_{next(self._ids):06d}"
        waiting = self._coalesced.get(job_name) if coalesce else None
        if waiting is not None and any(job.job_id == waiting and not job.attempts for job in self.pending):
            return EnqueuedJob(waiting, job_name, created=False)
        if the_id in self._known:
            return EnqueuedJob(the_id, job_name, created=False)
        self._known.add(the_id)
        if coalesce:
            self._coalesced[job_name] = the_id
        self.pending.append(QueuedJob(the_id, job_name, data, self._clock.now() + (delay or timedelta(0))))
        return EnqueuedJob(the_id, job_name, created=True)

    def run_pending(self) -> int:
        """Run every job due now, including ones those jobs enqueue; the number of successful runs."""
        done = 0
        while due := [job for job in self.pending if job.run_at <= self._clock.now()]:
            job = min(due, key=lambda queued: queued.run_at)
            self.pending.remove(job)
            done += self._run(job)
        return done

    def _run(self, job: QueuedJob) -> int:
        job.attempts += 1
        self.runs.append((job.job_id, job.job_name))
        try:
            self._registry.run(job.job_name, job.payload)
        except Exception as error:
            if job.attempts >= self._max_attempts:
                self.failed = attrs.evolve(self.failed, dead=self.failed.dead + 1)
                self.dead[job.job_id] = FailedJob(job.job_id, job.job_name, job.payload, repr(error), self._clock.now())
            else:
                self.failed = attrs.evolve(self.failed, retried=self.failed.retried + 1)
                self.pending.append(job)
            return 0
        return 1

    def waiting(self) -> dict[str, int]:
        return {"fake": len(self.pending)}

    def dead_jobs(self, *, limit: int = 100) -> list[FailedJob]:
        return list(self.dead.values())[:limit]

    def dead_job(self, job_id: str) -> FailedJob | None:
        return self.dead.get(job_id)

    def dead_count(self) -> int:
        return len(self.dead)

    def failures(self) -> list[JobFailures]:
        return [self.failed]

    def requeue(self, job_id: str) -> bool:
        failed = self.dead.pop(job_id, None)
        if failed is None:
            return False
        self.pending.append(QueuedJob(job_id, failed.job_name, failed.payload, self._clock.now()))
        return True
