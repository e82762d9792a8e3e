"""The job queue contract: the fake, the inline queue and RQ on the real Redis behave alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptopay.adapters.queue import InlineQueue, RqQueue
from cryptopay.core.errors import InvalidInput
from cryptopay.core.ports.queue import JobRegistry

from tests.support.queue_harness import Harness, RqHarness, harness


@pytest.fixture(params=["fake", "inline", pytest.param("rq", marks=pytest.mark.redis)])
def queue_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """One harness per queue implementation, with its own registry (and, on RQ, its own queue name)."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "rq" else None
    with harness(request.param, JobRegistry(), redis_url) as the_harness:
        yield the_harness


def _recorder(h: Harness, name: str = "record") -> list[dict]:
    seen: list[dict] = []
    h.registry.register(name, seen.append)
    return seen


def test_an_enqueued_job_runs_its_handler_with_the_payload(queue_harness: Harness) -> None:
    """A job runs once, with its JSON payload intact (nested objects, lists, strings, ints, bools, null)."""
    seen = _recorder(queue_harness)
    payload = {"amount": "100.000000", "count": 3, "ok": True, "none": None, "nested": {"list": ["a", 1, False]}}
    enqueued = queue_harness.queue.enqueue("record", payload)
    assert enqueued.created and enqueued.job_name == "record"
    queue_harness.run()
    assert seen == [payload]


def test_a_job_id_is_a_dedup_key(queue_harness: Harness) -> None:
    """Enqueuing a remembered job id again does nothing, before and after the job ran."""
    seen = _recorder(queue_harness)
    job_id = queue_harness.jid("once")
    assert queue_harness.queue.enqueue("record", {"n": 1}, job_id=job_id).created
    assert not queue_harness.queue.enqueue("record", {"n": 2}, job_id=job_id).created
    queue_harness.run()
    again = queue_harness.queue.enqueue("record", {"n": 3}, job_id=job_id)
    queue_harness.run()
    assert (again.job_id, again.created) == (job_id, False)
    assert seen == [{"n": 1}]


def test_a_delayed_job_waits_for_its_time(queue_harness: Harness) -> None:
    """A job enqueued with a delay does not run before the delay and does run after it."""
    seen = _recorder(queue_harness)
    queue_harness.queue.enqueue("record", {"late": True}, job_id=queue_harness.jid("late"), delay=timedelta(seconds=1))
    queue_harness.run()
    assert seen == []
    queue_harness.wait(2.1)  # RQ rounds a due time up to the next whole second
    queue_harness.run()
    assert seen == [{"late": True}]


def test_a_failing_job_is_retried_then_dead_lettered_and_can_be_requeued(queue_harness: Harness) -> None:
    """A job failing every attempt runs three times, lands in the dead letters (listed, and found by its id), and a
    requeue runs it again."""
    attempts: list[dict] = []
    broken = {"on": True}

    def flaky(payload: dict) -> None:
        attempts.append(payload)
        if broken["on"]:
            raise RuntimeError("receiver is down")

    queue_harness.registry.register("flaky", flaky)
    job_id = queue_harness.jid("flaky")
    queue_harness.queue.enqueue("flaky", {"n": 1}, job_id=job_id)
    queue_harness.run()
    assert len(attempts) == 3
    (dead,) = queue_harness.queue.dead_jobs()
    assert (dead.job_id, dead.job_name, dead.payload) == (job_id, "flaky", {"n": 1})
    assert "receiver is down" in dead.error
    assert (
        queue_harness.queue.dead_job(job_id) == dead and queue_harness.queue.dead_job(queue_harness.jid("no")) is None
    )
    broken["on"] = False
    assert queue_harness.queue.requeue(job_id)
    assert not queue_harness.queue.requeue(queue_harness.jid("nothing"))
    queue_harness.run()
    assert len(attempts) == 4 and queue_harness.queue.dead_jobs() == []


def test_failed_attempts_are_counted_and_a_requeue_does_not_uncount_them(queue_harness: Harness) -> None:
    """Each failed attempt counts once, as retried or (the last) dead; requeuing the dead job lowers the dead-job
    count but never the failure counts, and its next death counts again."""
    queue_harness.registry.register("doomed", lambda payload: 1 / 0)
    job_id = queue_harness.jid("doomed")
    queue_harness.queue.enqueue("doomed", {}, job_id=job_id)
    queue_harness.run()
    (failed,) = queue_harness.queue.failures()
    assert (failed.retried, failed.dead, queue_harness.queue.dead_count()) == (2, 1, 1)
    assert queue_harness.queue.requeue(job_id)
    (failed,) = queue_harness.queue.failures()
    assert (failed.retried, failed.dead, queue_harness.queue.dead_count()) == (2, 1, 0)
    queue_harness.run()
    (failed,) = queue_harness.queue.failures()
    assert (failed.retried, failed.dead, queue_harness.queue.dead_count()) == (4, 2, 1)


def _run_a_job_that_fails_once(queue_harness: Harness) -> list[int]:
    """Registers, enqueues and runs a job that raises on its first attempt only; returns one entry per attempt."""
    attempts: list[int] = []

    def once_broken(payload: dict) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first time unlucky")

    queue_harness.registry.register("once_broken", once_broken)
    queue_harness.queue.enqueue("once_broken", {})
    queue_harness.run()
    return attempts


def test_a_retried_success_counts_one_retried_failure_and_no_dead_one(queue_harness: Harness) -> None:
    """Before any failure every counter is there at zero (so the first increase is seen); a job failing once and
    then succeeding counts one retried attempt and no dead one."""
    assert [(f.retried, f.dead) for f in queue_harness.queue.failures()] == [(0, 0)]
    _run_a_job_that_fails_once(queue_harness)
    assert [(f.retried, f.dead) for f in queue_harness.queue.failures()] == [(1, 0)]
    assert queue_harness.queue.dead_count() == 0


def test_a_job_that_succeeds_on_a_retry_is_not_dead(queue_harness: Harness) -> None:
    """A job that fails once and then succeeds runs twice and leaves no dead letter."""
    attempts = _run_a_job_that_fails_once(queue_harness)
    assert len(attempts) == 2 and queue_harness.queue.dead_jobs() == []


def test_a_job_without_a_handler_is_dead_lettered(queue_harness: Harness) -> None:
    """A job name nobody registered fails on every attempt and ends in the dead letters."""
    queue_harness.queue.enqueue("nobody.handles.this", {"x": "y"}, job_id=queue_harness.jid("orphan"))
    queue_harness.run()
    assert [job.job_name for job in queue_harness.queue.dead_jobs()] == ["nobody.handles.this"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [({"amount": 1.5}, "float"), ({"at": object()}, "not JSON"), ({"deep": [{"x": 0.1}]}, r"deep\[0\]\.x")],
)
def test_payloads_that_are_not_json_safe_are_refused(queue_harness: Harness, payload: dict, reason: str) -> None:
    """Floats and non-JSON values are refused at enqueue, naming where they are; nothing is queued."""
    seen = _recorder(queue_harness)
    with pytest.raises(InvalidInput, match=reason):
        queue_harness.queue.enqueue("record", payload)
    queue_harness.run()
    assert seen == []


@pytest.mark.parametrize("job_id", ["has space", "colon:inside", "", "x" * 129])
def test_job_ids_are_limited_to_safe_characters(queue_harness: Harness, job_id: str) -> None:
    """A job id outside letters, digits, '_' and '-' (1 to 128 long) is refused everywhere alike."""
    with pytest.raises(InvalidInput, match="job id"):
        queue_harness.queue.enqueue("record", {}, job_id=job_id)


def test_jobs_enqueued_by_a_running_job_also_run(queue_harness: Harness) -> None:
    """A handler may enqueue follow-up jobs (as the webhook retries do), and they run too."""
    seen = _recorder(queue_harness)
    queue_harness.registry.register("chain", lambda p: queue_harness.queue.enqueue("record", {"from": "chain"}))
    queue_harness.queue.enqueue("chain", {})
    queue_harness.run()
    queue_harness.run()
    assert seen == [{"from": "chain"}]


def test_the_backlog_counts_jobs_not_started_yet(queue_harness: Harness) -> None:
    """A delayed job waits (counted in its queue's backlog); once it has run, nothing waits."""
    seen = _recorder(queue_harness)
    before = sum(queue_harness.queue.waiting().values())
    queue_harness.queue.enqueue("record", {"n": 1}, job_id=queue_harness.jid("backlog"), delay=timedelta(seconds=1))
    assert sum(queue_harness.queue.waiting().values()) == before + 1
    queue_harness.wait(2.1)
    queue_harness.run()
    assert seen == [{"n": 1}] and sum(queue_harness.queue.waiting().values()) == before


def test_a_coalescing_job_is_not_enqueued_again_while_its_previous_copy_waits(queue_harness: Harness) -> None:
    """While a coalescing job of a name waits, another coalescing enqueue of the name (any id) does nothing and
    answers the waiting id; once it has run, the next one is queued."""
    seen = _recorder(queue_harness)
    later = timedelta(seconds=1)
    first = queue_harness.queue.enqueue("record", {"n": 1}, job_id=queue_harness.jid("p1"), delay=later, coalesce=True)
    before = sum(queue_harness.queue.waiting().values())
    for n in range(2, 6):
        again = queue_harness.queue.enqueue("record", {"n": n}, job_id=queue_harness.jid(f"p{n}"), coalesce=True)
        assert (again.job_id, again.created) == (first.job_id, False)
    assert sum(queue_harness.queue.waiting().values()) == before
    queue_harness.wait(2.1)
    queue_harness.run()
    assert seen == [{"n": 1}]
    assert queue_harness.queue.enqueue("record", {"n": 6}, job_id=queue_harness.jid("p6"), coalesce=True).created
    queue_harness.run()
    assert seen == [{"n": 1}, {"n": 6}]


def test_a_running_coalescing_job_lets_the_next_copy_wait_behind_it(queue_harness: Harness) -> None:
    """A coalescing job that has started no longer counts as waiting: work arriving mid-run gets its own run."""
    answers: list[bool] = []

    def tick(payload: dict) -> None:
        if not answers:
            answers.append(
                queue_harness.queue.enqueue("tick", {}, job_id=queue_harness.jid("t2"), coalesce=True).created
            )
        else:
            answers.append(True)

    queue_harness.registry.register("tick", tick)
    queue_harness.queue.enqueue("tick", {}, job_id=queue_harness.jid("t1"), coalesce=True)
    queue_harness.run()
    queue_harness.run()
    assert answers == [True, True]


@pytest.mark.parametrize("kind", ["inline", pytest.param("rq", marks=pytest.mark.redis)])
def test_a_coalescing_job_waiting_for_its_retry_holds_nothing_back(kind: str, request: pytest.FixtureRequest) -> None:
    """A repeating job that ran and failed (or whose worker was killed under it) waits a minute for its retry; the
    next period's copy is queued and runs meanwhile. Before, the retry held every later copy back: ``payouts.start``
    killed at a fault point left the planned payouts unsent for minutes (``make chaos``). The fake retries at once."""
    registry, runs = JobRegistry(), []

    def tick(payload: dict) -> None:
        runs.append(payload["n"])
        if len(runs) == 1:
            raise RuntimeError("the work-horse died")

    registry.register("tick", tick)
    redis_url = request.getfixturevalue("redis_url") if kind == "rq" else None
    with harness(kind, registry, redis_url) as h:
        a_minute = [timedelta(minutes=1)]
        if isinstance(h, RqHarness):
            h.queue = RqQueue(h.connection, queue_name=h.queue_name, retries=a_minute)
        else:
            h.queue = InlineQueue(registry, retries=a_minute)
        assert h.queue.enqueue("tick", {"n": 1}, job_id=h.jid("p1"), coalesce=True).created
        h.run()
        assert runs == [1]  # failed: its retry waits a minute
        again = h.queue.enqueue("tick", {"n": 2}, job_id=h.jid("p2"), coalesce=True)
        assert (again.job_id, again.created) == (h.jid("p2"), True)
        h.run()
        assert runs == [1, 2]
        later = h.queue.enqueue("tick", {"n": 3}, job_id=h.jid("p3"), delay=timedelta(minutes=1), coalesce=True)
        held = h.queue.enqueue("tick", {"n": 4}, job_id=h.jid("p4"), coalesce=True)
        assert later.created and (held.job_id, held.created) == (h.jid("p3"), False)  # one never run still holds


def test_coalescing_is_per_job_name_and_leaves_other_enqueues_alone(queue_harness: Harness) -> None:
    """A waiting coalescing job holds back only coalescing enqueues of its own name."""
    later = timedelta(seconds=30)
    q = queue_harness.queue
    q.enqueue("record", {}, job_id=queue_harness.jid("a1"), delay=later, coalesce=True)
    assert q.enqueue("other", {}, job_id=queue_harness.jid("b1"), delay=later, coalesce=True).created
    assert q.enqueue("record", {}, job_id=queue_harness.jid("a2"), delay=later).created
    assert not q.enqueue("record", {}, job_id=queue_harness.jid("a3"), delay=later, coalesce=True).created
