"""Dead jobs for operators: list the jobs that failed on every attempt, and run them again (audited).

What an operator sees of a dead job is its id, its job name, when it failed and the last line of its error, never
its payload: a job's arguments may carry a phone number, a national id or an address (the queue keeps them for the
retry only).

>>> from cryptopay.core.ports.queue import FailedJob
>>> from cryptopay.core.testing.storage import InMemoryAuditLog
>>> from cryptopay.core.testing.system import ManualClock
>>> class Dead:
...     jobs = {"j1": FailedJob("j1", "sms.send", {"phone": "0712345678"}, "Traceback...\\nValueError: boom")}
...     def dead_jobs(self, *, limit=100): return list(self.jobs.values())[:limit]
...     def dead_job(self, job_id): return self.jobs.get(job_id)
...     def requeue(self, job_id): return self.jobs.pop(job_id, None) is not None
>>> dead = DeadJobs(Dead(), InMemoryAuditLog(), ManualClock())
>>> dead.list_dead()
[DeadJob(job_id='j1', job_name='sms.send', failed_at=None, error='ValueError: boom')]
>>> dead.requeue("j1", actor="ops:amina").job_name
'sms.send'
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import NotFound
from cryptopay.core.ports.identity import AuditTrail
from cryptopay.core.ports.queue import DeadLetters, FailedJob, check_job_id
from cryptopay.core.ports.system import Clock

__all__ = ["ALL_AT_ONCE", "REQUEUED", "DeadJob", "DeadJobs"]

REQUEUED = "job.requeued"  # the audit action of an operator's requeue
ALL_AT_ONCE = 10_000  # ``requeue_all`` runs at most this many per call (run it again for more)
_ERROR_CHARS = 300


@attrs.frozen
class DeadJob:
    """What an operator may see of a dead job: never its payload."""

    job_id: str
    job_name: str
    failed_at: datetime | None = None  # None when the queue did not record it
    error: str = ""

    @classmethod
    def of(cls, failed: FailedJob) -> DeadJob:
        """The job without its payload, its error cut to the last line (the exception, not the traceback).

        >>> DeadJob.of(FailedJob("j", "x", {"secret": "s"}, "Traceback:\\n  line\\nKeyError: 'k'\\n")).error
        "KeyError: 'k'"
        """
        lines = failed.error.strip().splitlines()
        last = lines[-1].strip() if lines else "failed"
        return cls(failed.job_id, failed.job_name, failed.failed_at, last[:_ERROR_CHARS])


@attrs.define
class DeadJobs:
    """The queue's dead letters as operators use them; each requeue is an audit record naming the operator."""

    dead_letters: DeadLetters
    audit: AuditTrail
    clock: Clock

    def list_dead(self, *, limit: int = 100) -> list[DeadJob]:
        """Up to ``limit`` dead jobs, without their payloads."""
        return [DeadJob.of(job) for job in self.dead_letters.dead_jobs(limit=limit)]

    def requeue(self, job_id: str, *, actor: str) -> DeadJob:
        """Run the dead job ``job_id`` again with a fresh set of retries; ``NotFound`` if there is no such dead job
        (a bad id is ``InvalidInput``)."""
        check_job_id(job_id)
        found = self.dead_letters.dead_job(job_id)
        if found is None or not self.dead_letters.requeue(job_id):
            raise NotFound(f"no dead job {job_id}", job_id=job_id)
        return self._audited(DeadJob.of(found), actor)

    def requeue_all(self, *, actor: str) -> list[DeadJob]:
        """Run every dead job again (up to ``ALL_AT_ONCE``); the ones requeued, each audited."""
        done: list[DeadJob] = []
        for job in self.dead_letters.dead_jobs(limit=ALL_AT_ONCE):
            if self.dead_letters.requeue(job.job_id):  # another operator may have requeued it meanwhile
                done.append(self._audited(DeadJob.of(job), actor))
        return done

    def _audited(self, job: DeadJob, actor: str) -> DeadJob:
        self.audit.append(AuditEvent(actor, REQUEUED, job.job_id, self.clock.now(), {"job": job.job_name}))
        return job
