"""Job queue port: run a named job later, at most once per ``job_id``, with retries and a dead-letter list.

A job is a name and a JSON payload (strings, ints, bools, None, lists and objects; never floats, so amounts
travel as strings). ``job_id`` is a deduplication key: while the queue remembers a job with that id, enqueuing
it again does nothing (ids are letters, digits, ``_`` and ``-``). Handlers must still be idempotent: a queue
may run a job twice after a crash.

``coalesce=True`` is for repeating jobs whose every run does all the work due (the schedule's): while a job of
that name enqueued with ``coalesce`` still waits (never run yet: queued or delayed), another coalescing enqueue
of the name does nothing and answers the waiting job's id. A job already running does not count: the next one may
wait behind it, so work arriving mid-run is not missed; nor does one that ran and waits for a retry (it failed, or
its worker died under it): its retry may be minutes away, and the next period's copy does the work due meanwhile.
So a worker that falls behind the schedule finds one copy of each repeating job (two while one awaits a retry),
never a backlog of them.

>>> registry = JobRegistry()
>>> @registry.handler("greet")
... def greet(payload: Payload) -> None:
...     print("hello", payload["name"])
>>> registry.run("greet", {"name": "Wanjiru"})
hello Wanjiru
>>> check_payload({"amount": 1.5})
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: job payload value at amount is a float; send amounts as strings
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Protocol, TypeAlias

import attrs
from cryptopay.core.errors import InvalidInput, NotFound

__all__ = [
    "Backlog",
    "DeadLetters",
    "EnqueuedJob",
    "FailedJob",
    "JobFailures",
    "JobHandler",
    "JobQueue",
    "JobRegistry",
    "JsonValue",
    "Payload",
    "UnknownJob",
    "check_job_id",
    "check_payload",
]

JsonValue: TypeAlias = "str | int | bool | list[JsonValue] | dict[str, JsonValue] | None"
Payload: TypeAlias = "Mapping[str, JsonValue]"
JobHandler: TypeAlias = "Callable[[Payload], object]"


class UnknownJob(NotFound):
    """No handler is registered under this job name."""

    code = "unknown_job"


@attrs.frozen
class EnqueuedJob:
    """The answer to an enqueue: the job's id and whether this call created it (False: a duplicate, ignored)."""

    job_id: str
    job_name: str
    created: bool


@attrs.frozen
class FailedJob:
    """A dead-lettered job: it failed on every attempt the queue allowed."""

    job_id: str
    job_name: str
    payload: dict[str, JsonValue] = attrs.field(hash=False)
    error: str
    failed_at: datetime | None = None


@attrs.frozen
class JobFailures:
    """The failed attempts of one queue's jobs, counted where each failed (the worker), so they only grow: a job
    requeued, retried or expired since is still counted. ``dead``: attempts that left no retry (the job was
    dead-lettered); ``retried``: attempts followed by a retry."""

    queue: str
    retried: int = 0
    dead: int = 0


class JobQueue(Protocol):
    """Where use cases put work for later; the embedded default runs it in-process, production on RQ."""

    def enqueue(
        self,
        job_name: str,
        payload: Payload,
        *,
        job_id: str | None = None,
        delay: timedelta | None = None,
        coalesce: bool = False,
    ) -> EnqueuedJob:
        """Queue ``job_name`` with ``payload``; a ``job_id`` the queue still remembers makes this a no-op, and so
        does ``coalesce`` while a coalescing job of this name waits (``created`` False, the waiting job's id)."""
        ...


class Backlog(Protocol):
    """How much work waits: the jobs not started yet (ready or delayed), per queue; a backlog that keeps growing
    means too few workers, or one stuck."""

    def waiting(self) -> dict[str, int]: ...


class DeadLetters(Protocol):
    """The jobs that failed on every attempt, for ops to read and to requeue, and for alerting to count."""

    def dead_jobs(self, *, limit: int = 100) -> list[FailedJob]: ...

    def dead_job(self, job_id: str) -> FailedJob | None:
        """The dead job ``job_id`` (None if there is none), read alone whatever the number of dead jobs."""
        ...

    def dead_count(self) -> int:
        """How many dead jobs are kept, without reading them: cheap whatever their number."""
        ...

    def failures(self) -> list[JobFailures]:
        """Every queue's failed attempts so far (zeros included), counters that only grow: alert on their increase,
        which a requeue cannot hide, rather than on ``dead_count``, which a requeue lowers."""
        ...

    def requeue(self, job_id: str) -> bool:
        """Run a dead job again (with a fresh set of retries); False if there is no such dead job."""
        ...


def _check(value: object, path: str) -> None:
    if isinstance(value, float):
        raise InvalidInput(f"job payload value at {path} is a float; send amounts as strings")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"job payload keys must be strings (at {path})")
            _check(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
    elif not (value is None or isinstance(value, str | int | bool)):
        raise InvalidInput(f"job payload value at {path} is a {type(value).__name__}, not JSON")


_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_job_id(job_id: str) -> str:
    """Job ids are 1 to 128 letters, digits, ``_`` or ``-`` (what every adapter, RQ included, can store)."""
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise InvalidInput(f"job id {job_id!r} must be 1 to 128 letters, digits, '_' or '-'")
    return job_id


def check_payload(payload: Payload) -> dict[str, JsonValue]:
    """A plain-dict copy of a JSON-safe payload; refuses floats, non-string keys and non-JSON values."""
    if not isinstance(payload, Mapping):
        raise InvalidInput("a job payload is a JSON object")
    copy = dict(payload)
    _check(copy, "")
    return copy


class JobRegistry:
    """Maps job names to handlers; the worker builds one and every queue adapter dispatches through it."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}

    def register(self, name: str, handler: JobHandler) -> None:
        """Register ``handler`` for ``name``; registering a different handler under a taken name is refused."""
        existing = self._handlers.get(name)
        if existing is not None and existing is not handler:
            raise InvalidInput(f"job {name!r} already has a handler")
        self._handlers[name] = handler

    def handler(self, name: str) -> Callable[[JobHandler], JobHandler]:
        """Decorator form of ``register``."""

        def decorate(function: JobHandler) -> JobHandler:
            self.register(name, function)
            return function

        return decorate

    def names(self) -> frozenset[str]:
        """Every job name with a handler."""
        return frozenset(self._handlers)

    def get(self, name: str) -> JobHandler:
        try:
            return self._handlers[name]
        except KeyError:
            raise UnknownJob(f"no handler is registered for job {name!r}") from None

    def run(self, name: str, payload: Payload) -> object:
        """Run the handler for ``name`` now, in this thread."""
        return self.get(name)(payload)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))
