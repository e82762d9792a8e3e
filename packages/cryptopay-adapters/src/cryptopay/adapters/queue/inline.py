"""The embedded job queue: one background thread runs jobs in order, delayed ones when their time comes.

No Redis needed. Jobs never run on the caller's stack, so a use case may enqueue inside its transaction.
A failing job is retried after each wait in ``retries``, then kept in the dead-letter list. Everything lives
in memory: a process that exits loses its queued jobs, which is why the outbox and the webhook sweep, not
the queue, are the durable record.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs
from cryptopay.core import logs
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

__all__ = ["InlineQueue"]

log = logging.getLogger(__name__)


@attrs.define(order=True)
class _Job:
    run_at: float
    seq: int
    job_id: str = attrs.field(order=False)
    job_name: str = attrs.field(order=False)
    payload: dict[str, JsonValue] = attrs.field(order=False)
    attempts: int = attrs.field(default=0, order=False)


class InlineQueue:
    """A ``JobQueue`` and ``DeadLetters`` in this process; ``drain`` waits until nothing due is left."""

    def __init__(
        self,
        registry: JobRegistry,
        *,
        retries: Sequence[timedelta] = (timedelta(seconds=1), timedelta(seconds=10), timedelta(seconds=60)),
        dedup_ttl: timedelta = timedelta(hours=1),
    ) -> None:
        self._registry = registry
        self._retries = tuple(retries)
        self._dedup_ttl = dedup_ttl.total_seconds()
        self._heap: list[_Job] = []
        self._seen: dict[str, float] = {}  # job id -> when the dedup memory of it lapses (monotonic)
        self._coalesced: dict[str, str] = {}  # job name -> the id of its last coalescing job
        self._dead: dict[str, FailedJob] = {}
        self._failed = JobFailures("inline")  # failed attempts since this process started, only growing
        self._seq = itertools.count()
        self._running = 0
        self._stopping = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

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
        now = time.monotonic()
        with self._changed:
            the_id = check_job_id(job_id) if job_id is not None else f"inline-{next(self._seq)}-{time.time_ns()}"
            waiting = self._coalesced.get(job_name) if coalesce else None
            if waiting is not None and any(job.job_id == waiting and not job.attempts for job in self._heap):
                return EnqueuedJob(waiting, job_name, created=False)
            self._forget_expired(now)
            if self._seen.get(the_id, 0.0) > now:
                return EnqueuedJob(the_id, job_name, created=False)
            self._seen[the_id] = now + self._dedup_ttl
            if coalesce:
                self._coalesced[job_name] = the_id
            run_at = now + (delay.total_seconds() if delay else 0.0)
            heapq.heappush(self._heap, _Job(run_at, next(self._seq), the_id, job_name, data))
            self._start()
            self._changed.notify_all()
        return EnqueuedJob(the_id, job_name, created=True)

    def _forget_expired(self, now: float) -> None:
        if len(self._seen) > 1000:
            self._seen = {key: until for key, until in self._seen.items() if until > now}

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="cryptopay-inline-queue", daemon=True)
            self._thread.start()

    def _next_due(self) -> _Job | None:
        with self._changed:
            while not self._stopping:
                wait = self._heap[0].run_at - time.monotonic() if self._heap else None
                if wait is not None and wait <= 0:
                    self._running += 1
                    return heapq.heappop(self._heap)
                self._changed.wait(timeout=wait)
            return None

    def _loop(self) -> None:
        while (job := self._next_due()) is not None:
            try:
                self._run(job)
            finally:
                with self._changed:
                    self._running -= 1
                    self._changed.notify_all()

    def _run(self, job: _Job) -> None:
        job.attempts += 1
        try:
            with logs.scope(job_id=job.job_id, job=job.job_name):
                self._registry.run(job.job_name, job.payload)
        except Exception as error:
            log.warning("job %s (%s) failed on attempt %d: %r", job.job_id, job.job_name, job.attempts, error)
            with self._changed:
                if job.attempts <= len(self._retries):
                    self._failed = attrs.evolve(self._failed, retried=self._failed.retried + 1)
                    job.run_at = time.monotonic() + self._retries[job.attempts - 1].total_seconds()
                    heapq.heappush(self._heap, job)
                else:
                    self._failed = attrs.evolve(self._failed, dead=self._failed.dead + 1)
                    self._dead[job.job_id] = FailedJob(
                        job.job_id, job.job_name, job.payload, repr(error), datetime.now(UTC)
                    )

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until no job is running or due; False if ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._running or (self._heap and self._heap[0].run_at <= time.monotonic()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(timeout=min(remaining, 0.05))
        return True

    def close(self) -> None:
        """Stop the worker thread after the job it is running; queued jobs are dropped."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def waiting(self) -> dict[str, int]:
        """Jobs queued in this process, due or not (``Backlog``)."""
        with self._changed:
            return {"inline": len(self._heap)}

    def dead_jobs(self, *, limit: int = 100) -> list[FailedJob]:
        with self._changed:
            return list(self._dead.values())[:limit]

    def dead_job(self, job_id: str) -> FailedJob | None:
        with self._changed:
            return self._dead.get(job_id)

    def dead_count(self) -> int:
        with self._changed:
            return len(self._dead)

    def failures(self) -> list[JobFailures]:
        """Failed attempts since this process started (a restart starts them again at 0, which ``increase()``
        reads as a counter reset)."""
        with self._changed:
            return [self._failed]

    def requeue(self, job_id: str) -> bool:
        with self._changed:
            failed = self._dead.pop(job_id, None)
            if failed is None:
                return False
            heapq.heappush(self._heap, _Job(time.monotonic(), next(self._seq), job_id, failed.job_name, failed.payload))
            self._start()
            self._changed.notify_all()
        return True
