"""The production job queue: RQ on Redis.

Every job is the one function ``perform(job_name, payload)``: the enqueuing side (HTTP app, CLI, worker)
needs only job names, and the worker process installs its ``JobRegistry`` before it starts (``install``).
Payloads are stored as JSON (RQ's JSON serializer, never pickle). A ``job_id`` is enqueued with RQ's
``unique=True``, so a second enqueue of a remembered id is refused atomically in Redis; finished jobs are
remembered for ``dedup_ttl``. A failing or abandoned job (its worker was killed) is retried after each wait in
``retries``; then it lands in RQ's ``FailedJobRegistry``, our dead-letter list, for ``dead_ttl``.

Failed attempts are counted where they happen, in Redis (``<namespace>:<queue>:job-failures``, a hash of
``retried`` and ``dead``), so the counts only grow: a dead job requeued, or a failed attempt retried, before anyone
looked is still counted (``failures``, exported as ``cryptopay_job_failures_total``). The worker counts every failure
it handles (``_FailureCounting.handle_job_failure``: a job that raised, a killed or stopped work-horse), and RQ's
abandoned-job cleanup, which may run in any process (the worker's maintenance, ``rq info``), calls each job's failure
callback, ``count_abandoned``. ``dead_count`` counts the kept dead jobs in the registry's sorted set (``ZCARD`` less
the expired entries not yet removed) without reading a job.

Coalescing (``enqueue(..., coalesce=True)``, the schedule's repeating jobs): the id of a name's last coalescing
job is kept at ``<namespace>:<queue>:waiting:<job name>``; an enqueue that finds that job still waiting (its RQ
status queued, scheduled, deferred: not started, finished, failed, stopped or cancelled, and not expired) does
nothing. RQ's own ``unique=True`` drops only the same id, and each period has its own, so without this a worker
slower than the schedule found a growing backlog of copies ahead of the event jobs (review 3, I5). The check and
the enqueue are two steps: two schedulers racing across a period boundary may leave two copies, never more. A job
that has run once and waits for its *retry* (it raised, or its work-horse was killed) no longer counts as waiting:
the next period's copy is queued beside it. Before, a repeating job killed mid-run (``payouts.start`` at a fault
point) held every later period back until its retry ran, and the retry waits for RQ's scheduler, whose lock a
killed worker keeps (61 s): planned payouts sat for minutes (``make chaos``). The other workers try that lock every
``SCHEDULER_CHECK`` (``_SchedulerTakeover``), not only at RQ's 10-minute maintenance.

Several deployments may share one Redis: ``namespace`` (the deployment's name, ``CRYPTOPAY_DEPLOYMENT``) prefixes
every queue name (``<namespace>:<queue>``) and every job id stored in Redis (``<namespace>-<job id>``: RQ allows
only letters, digits, ``_`` and ``-``), so one deployment's scheduled job ids are never another's duplicates.
Callers see their own ids: the prefix is added and removed here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import attrs
import redis
from cryptopay.core import logs
from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.queue import (
    EnqueuedJob,
    FailedJob,
    JobFailures,
    JobRegistry,
    JsonValue,
    Payload,
    UnknownJob,
    check_job_id,
    check_payload,
)
from rq import Callback, Queue, Retry, SimpleWorker, Worker
from rq.exceptions import AbandonedJobError, DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.job import Job, get_current_job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker

__all__ = ["DEFAULT_QUEUE", "RqQueue", "count_abandoned", "install", "perform"]

DEFAULT_QUEUE = "cryptopay"
_registry: JobRegistry | None = None
log = logging.getLogger(__name__)


def install(registry: JobRegistry) -> None:
    """Make ``registry`` the handlers that ``perform`` dispatches to in this (worker) process."""
    global _registry
    _registry = registry


def perform(job_name: str, payload: dict[str, JsonValue]) -> None:
    """The single RQ entry point: run the installed handler for ``job_name``."""
    if _registry is None:
        raise UnknownJob(f"no job registry is installed in this worker; cannot run {job_name!r}")
    job = get_current_job()
    with logs.scope(job_id=job.id if job is not None else "", job=job_name):
        _registry.run(job_name, payload)


def _failures_key(stored_queue: str) -> str:
    return f"{stored_queue}:job-failures"  # the stored queue name: <deployment>:<queue>


def _count_failure(connection: redis.Redis, job: Job, *, dead: bool) -> None:
    """Add one failed attempt of ``job`` to its queue's count; a Redis error is logged, never raised (RQ is
    recording the failure itself and must not be interrupted)."""
    try:
        connection.hincrby(_failures_key(job.origin), "dead" if dead else "retried", 1)
    except redis.RedisError as error:
        log.warning("job %s failed and could not be counted (%s)", job.id, type(error).__name__)


def count_abandoned(
    job: Job,
    connection: redis.Redis,
    kind: type[BaseException] | None,
    error: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """Every job's RQ failure callback: counts a job whose worker died under it (``AbandonedJobError``), found by
    RQ's cleanup of the started-jobs registry in whatever process runs it. The other failures are counted by the
    worker that handles them (``_FailureCounting``), so this callback ignores them."""
    if isinstance(error, AbandonedJobError):
        _count_failure(connection, job, dead=not job.should_retry)


class _FailureCounting(BaseWorker):
    """The failure counting both RQ worker kinds share: each failed attempt the worker handles is counted before RQ
    retries or dead-letters the job (a stopped job is dead, it is not retried)."""

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: StartedJobRegistry | None = None,
        exc_string: str = "",
        execution: Execution | None = None,
    ) -> None:
        _count_failure(self.connection, job, dead=self._stopped_job_id == job.id or not job.should_retry)
        super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)


SCHEDULER_CHECK = timedelta(seconds=15)
"""How often an idle worker started ``with_scheduler`` tries to take over RQ's scheduler when it runs none."""


class _SchedulerTakeover(BaseWorker):
    """Takes over RQ's scheduler within a minute and a quarter of its owner's death, not ten minutes.

    RQ's scheduler (delayed jobs, retry waits) runs in one worker per queue, the holder of a lock it refreshes each
    second with a 61 s TTL. A worker that finds the lock taken runs none, and RQ has it try again only in its
    maintenance (``maintenance_interval``, 10 minutes), which an idle worker reaches only when its blocking dequeue
    times out (``worker_ttl`` - 15 s, 405 s). So after a SIGKILLed owner's lock expired, every delayed job (webhook
    retries, a killed ``payouts.start``'s retry) waited up to 10 minutes (``make chaos``).

    Here the dequeue wakes every ``SCHEDULER_CHECK`` (one ``BLPOP`` returning empty, a worker heartbeat), and then,
    if this worker has no live scheduler process, tries the lock (one ``SET NX`` script per queue) and starts the
    scheduler on success: delayed jobs run again at most 61 s + ``SCHEDULER_CHECK`` after the owner's last
    heartbeat. RQ's own maintenance (registry cleaning) keeps its 10-minute interval. The Redis socket timeout is
    left where RQ sets it (the long dequeue's), so a short Redis pause still does not stop the worker.
    """

    _scheduler_checked_at: float = 0.0
    _takes_over = False  # a worker started with_scheduler, not in burst mode (a burst run ends before it matters)

    def _start_scheduler(self, burst: bool = False, *args: Any, **kwargs: Any) -> None:
        self._takes_over = not burst
        super()._start_scheduler(burst, *args, **kwargs)

    def _full_maintenance_due(self) -> bool:
        return bool(super().should_run_maintenance_tasks)

    @property
    def should_run_maintenance_tasks(self) -> bool:
        due = time.monotonic() - self._scheduler_checked_at >= SCHEDULER_CHECK.total_seconds()
        return self._full_maintenance_due() or (due and self._takes_over)

    def run_maintenance_tasks(self) -> None:
        self._scheduler_checked_at = time.monotonic()
        if self._full_maintenance_due():
            # RQ's: tries the scheduler too, except on the first run (work() just did); RQ leaves it unannotated
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
            return
        scheduler = self.scheduler
        if not self._takes_over or scheduler is None:
            return
        if scheduler._process is None or not scheduler._process.is_alive():  # RQ's own test in its maintenance
            scheduler.acquire_locks(auto_start=True)  # type: ignore[no-untyped-call]

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(int(super().dequeue_timeout), int(SCHEDULER_CHECK.total_seconds())))

    @property
    def connection_timeout(self) -> int:
        return int(super().dequeue_timeout) + 10  # RQ's: the socket outlives its own longest dequeue


class _CountingWorker(_FailureCounting, _SchedulerTakeover, Worker):
    """RQ's forking worker, counting each failed attempt it handles (in the work-horse or, for a killed or stopped
    horse, in the worker) before RQ retries or dead-letters the job."""


class _CountingSimpleWorker(_FailureCounting, _SchedulerTakeover, SimpleWorker):
    """RQ's worker that runs jobs in its own process, counting each failed attempt like ``_CountingWorker``."""


# The id of a name's last coalescing job if that job still waits: it exists and has not started or ended, and it
# never ran (one that ran and waits for a retry has a ``started_at``: it holds nothing back).
_WAITING = """
local last = redis.call('GET', KEYS[1])
if not last then return false end
local status, started = unpack(redis.call('HMGET', ARGV[1] .. last, 'status', 'started_at'))
if not status or status == 'started' or status == 'finished' or status == 'failed'
    or status == 'stopped' or status == 'canceled' then
  return false
end
if started and started ~= '' then return false end
return last
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _not_before(delay: timedelta) -> datetime:
    # RQ's scheduler keeps whole seconds (it truncates), so round up: a delayed job must never run early.
    at = datetime.now(UTC) + delay
    return at.replace(microsecond=0) + timedelta(seconds=1) if at.microsecond else at


def _seconds(value: timedelta) -> int:
    return max(1, int(value.total_seconds()))


def _as_failed(job: Job) -> FailedJob:
    name, payload = [*job.args, "?", {}][:2]
    result = job.latest_result()
    lines = ((result.exc_string if result else None) or "").strip().splitlines()
    return FailedJob(job.id, str(name), dict(payload), lines[-1] if lines else "failed", job.ended_at)


class RqQueue:
    """``JobQueue`` and ``DeadLetters`` over RQ; ``routes`` sends some jobs to their own queue (e.g. payouts)."""

    def __init__(
        self,
        connection: redis.Redis,
        *,
        queue_name: str = DEFAULT_QUEUE,
        routes: Mapping[str, str] | None = None,
        retries: Sequence[timedelta] = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5)),
        timeout: timedelta = timedelta(minutes=5),
        dedup_ttl: timedelta = timedelta(days=1),
        dead_ttl: timedelta = timedelta(days=30),
        namespace: str = "",
    ) -> None:
        self._connection = connection
        self._default = queue_name
        self._routes = dict(routes or {})
        self._queue_prefix = f"{namespace}:" if namespace else ""
        self._id_prefix = f"{check_job_id(namespace)}-" if namespace else ""
        self._retry = [int(wait.total_seconds()) for wait in retries]
        self._dedup_ttl = _seconds(dedup_ttl)
        self._waiting_job = connection.register_script(_WAITING)
        self._options = {
            "job_timeout": _seconds(timeout),
            "result_ttl": _seconds(dedup_ttl),
            "failure_ttl": _seconds(dead_ttl),
            "on_failure": Callback(count_abandoned),
        }

    @property
    def queue_names(self) -> list[str]:
        """Every RQ queue this adapter enqueues to: the default one first, then the routed ones."""
        return [self._default, *sorted(set(self._routes.values()) - {self._default})]

    def waiting(self) -> dict[str, int]:
        """Jobs not started yet per queue, ready or delayed (``Backlog``)."""
        found: dict[str, int] = {}
        for name in self.queue_names:
            queue = self._queue(name)
            found[name] = int(queue.count) + int(queue.scheduled_job_registry.count)
        return found

    def _queue(self, name: str) -> Queue:
        return Queue(self._queue_prefix + name, connection=self._connection, serializer=JSONSerializer)

    def _stored_id(self, job_id: str) -> str:
        return self._id_prefix + check_job_id(job_id)

    def _caller_id(self, stored: str) -> str:
        return stored.removeprefix(self._id_prefix)

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
        queue = self._queue(self._routes.get(job_name, self._default))
        marker = f"{queue.name}:waiting:{job_name}"
        if coalesce and (waiting := self._still_waiting(marker)) is not None:
            return EnqueuedJob(self._caller_id(waiting), job_name, created=False)
        enqueued = self._enqueue(queue, job_name, data, job_id=job_id, delay=delay)
        if coalesce and enqueued.created:
            self._remember_waiting(marker, enqueued.job_id)
        return enqueued

    def _still_waiting(self, marker: str) -> str | None:
        try:
            found = self._waiting_job(keys=[marker], args=[Job.redis_job_namespace_prefix])
        except redis.RedisError as error:
            raise Unavailable(f"the job queue is unreachable ({type(error).__name__})") from None
        return _text(found) if found else None

    def _remember_waiting(self, marker: str, job_id: str) -> None:
        try:
            self._connection.set(marker, self._stored_id(job_id), ex=self._dedup_ttl)
        except redis.RedisError as error:  # the job is queued; the next period may add one more copy
            log.warning("could not note %s as waiting (%s)", job_id, type(error).__name__)

    def _enqueue(
        self, queue: Queue, job_name: str, data: dict[str, JsonValue], *, job_id: str | None, delay: timedelta | None
    ) -> EnqueuedJob:
        options: dict[str, object] = {**self._options, "description": job_name}
        if job_id is not None:
            options.update(job_id=self._stored_id(job_id), unique=True)
        if self._retry:
            options["retry"] = Retry(max=len(self._retry), interval=self._retry)
        try:
            if delay is not None and delay > timedelta(0):
                job = queue.enqueue_at(_not_before(delay), perform, job_name, data, **options)
            else:
                job = queue.enqueue(perform, job_name, data, **options)
        except DuplicateJobError:
            return EnqueuedJob(str(job_id), job_name, created=False)
        except redis.RedisError as error:
            raise Unavailable(f"the job queue is unreachable ({type(error).__name__})") from None
        return EnqueuedJob(self._caller_id(job.id), job_name, created=True)

    def _failed_registries(self) -> list[FailedJobRegistry]:
        return [FailedJobRegistry(queue=self._queue(name)) for name in self.queue_names]

    def dead_jobs(self, *, limit: int = 100) -> list[FailedJob]:
        found: list[FailedJob] = []
        for registry in self._failed_registries():
            for job_id in registry.get_job_ids(0, limit - 1):
                try:
                    job = Job.fetch(job_id, connection=self._connection, serializer=JSONSerializer)
                    found.append(attrs.evolve(_as_failed(job), job_id=self._caller_id(job.id)))
                except NoSuchJobError:
                    continue
        return found[:limit]

    def dead_job(self, job_id: str) -> FailedJob | None:
        """The dead job ``job_id``: a ``ZSCORE`` per failed registry, then that one job read."""
        stored = self._stored_id(job_id)
        for registry in self._failed_registries():
            if self._connection.zscore(registry.key, stored) is None:
                continue
            try:
                job = Job.fetch(stored, connection=self._connection, serializer=JSONSerializer)
            except NoSuchJobError:
                return None
            return attrs.evolve(_as_failed(job), job_id=job_id)
        return None

    def dead_count(self) -> int:
        """The dead jobs kept on every queue: each failed registry's size less its expired entries that RQ's cleanup
        has not removed yet, two O(log n) commands per queue in one round trip, and no job read."""
        now = time.time()
        with self._connection.pipeline(transaction=False) as pipe:
            for registry in self._failed_registries():
                pipe.zcard(registry.key)
                pipe.zcount(registry.key, 0, now)
            try:
                answers = pipe.execute()
            except redis.RedisError as error:
                raise Unavailable(f"the job queue is unreachable ({type(error).__name__})") from None
        return sum(int(kept) - int(expired) for kept, expired in zip(answers[::2], answers[1::2], strict=True))

    def failures(self) -> list[JobFailures]:
        """Each queue's failed attempts as counted by the workers (zeros for a queue with none yet)."""
        names = self.queue_names
        with self._connection.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(_failures_key(self._queue_prefix + name))
            try:
                answers = pipe.execute()
            except redis.RedisError as error:
                raise Unavailable(f"the job queue is unreachable ({type(error).__name__})") from None
        found: list[JobFailures] = []
        for name, counts in zip(names, answers, strict=True):
            count = {_text(key): int(value) for key, value in dict(counts).items()}
            found.append(JobFailures(name, retried=count.get("retried", 0), dead=count.get("dead", 0)))
        return found

    def requeue(self, job_id: str) -> bool:
        for registry in self._failed_registries():
            try:
                job = Job.fetch(self._stored_id(job_id), connection=self._connection, serializer=JSONSerializer)
                job.retries_left = len(self._retry) or None
                job.save()
                registry.requeue(job)
            except (NoSuchJobError, InvalidJobOperation):
                continue
            return True
        return False

    def worker(
        self, registry: JobRegistry, *, queue_names: Sequence[str] | None = None, fork: bool = True
    ) -> BaseWorker:
        """An RQ worker for our queues that dispatches to ``registry`` (``fork=False``: run jobs in this process)."""
        install(registry)
        worker_class: type[BaseWorker] = _CountingWorker if fork else _CountingSimpleWorker
        queues = [self._queue(name) for name in (queue_names or self.queue_names)]
        return worker_class(queues, connection=self._connection, serializer=JSONSerializer)
