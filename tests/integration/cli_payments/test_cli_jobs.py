"""``cryptopay jobs dead / requeue`` on RQ over the real Redis: dead jobs listed without their payloads, requeued
one or all with an audit record each; unknown and malformed ids refused; the inline queue explained."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build, ready
from cryptopay.core.dead_jobs import REQUEUED, DeadJobs
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.system import ManualClock
from cryptopay_cli.context import operator, use_services

from tests.integration.cli_payments.cli_payments_support import cli
from tests.support.queue_harness import RqHarness, harness

PHONE, SECRET = "0712345678", "s3cret-national-id"


class Deployment:
    """RQ on the real Redis with an SMS job that fails while ``broken``, and the CLI's services over it."""

    def __init__(self, queue: RqHarness, data_dir: Path) -> None:
        self.queue, self.broken, self.sent = queue, True, []
        self.audit = InMemoryAuditLog()
        queue.registry.register("sms.send", self.send)
        clock = ManualClock()
        self.services = Services(
            settings=Settings.for_data_dir(data_dir),
            clock=clock,
            ids=RandomIds(),
            audit=ready(self.audit),
            dead_jobs=ready(DeadJobs(queue.queue, self.audit, clock)),
        )

    def send(self, payload: dict) -> None:
        if self.broken:
            raise ValueError("the SMS gateway is down")
        self.sent.append(payload)

    def dead_sms(self, name: str) -> str:
        """Enqueue an SMS job carrying personal data and let it fail every attempt; its id."""
        job_id = self.queue.jid(name)
        self.queue.queue.enqueue("sms.send", {"phone": PHONE, "national_id": SECRET}, job_id=job_id)
        self.queue.run()
        return job_id


@pytest.fixture
def deployment(redis_url: str, tmp_path: Path) -> Iterator[Deployment]:
    with harness("rq", JobRegistry(), redis_url) as queue:
        assert isinstance(queue, RqHarness)
        setup = Deployment(queue, tmp_path)
        previous = use_services(setup.services)
        try:
            yield setup
        finally:
            use_services(previous)


pytestmark = pytest.mark.redis


def test_jobs_dead_lists_id_name_time_and_error_never_the_payload(deployment: Deployment) -> None:
    """Each dead job shows its id, job name, failure time and the exception's last line; no payload value shows,
    in JSON or in the table."""
    job_id = deployment.dead_sms("sms")
    listed = cli("jobs", "dead", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert set(row) == {"id", "job", "failed_at", "error"}
    assert (row["id"], row["job"], row["error"]) == (job_id, "sms.send", "ValueError: the SMS gateway is down")
    assert row["failed_at"]
    table = cli("jobs", "dead")
    assert table.exit_code == 0 and job_id in table.stdout and "ValueError: the SMS gateway is down" in table.stdout
    for shown in (listed.stdout, table.stdout):
        assert PHONE not in shown and SECRET not in shown and "Traceback" not in shown


def test_jobs_requeue_runs_a_dead_job_again_and_audits_the_operator(deployment: Deployment) -> None:
    """A requeued job runs again (here it succeeds) and leaves the dead jobs; the audit log names the operator (the OS
    account; ``--actor`` is recorded apart, R10-5)."""
    job_id = deployment.dead_sms("sms")
    done = cli("jobs", "requeue", job_id, "--actor", "amina")
    assert done.exit_code == 0, done.output
    assert f"dead job {job_id} (sms.send) queued again" in done.stdout
    behalf, record = deployment.audit.records()
    assert (behalf.actor, behalf.action, behalf.subject) == (operator(), "ops.on_behalf_of", "ops:amina")
    assert (record.actor, record.action, record.subject, record.details) == (
        operator(),
        REQUEUED,
        job_id,
        (("job", "sms.send"),),
    )
    deployment.broken = False
    deployment.queue.run()
    assert deployment.sent == [{"phone": PHONE, "national_id": SECRET}]
    assert json.loads(cli("jobs", "dead", "--json").stdout) == []


def test_jobs_requeue_all_requeues_every_dead_job_with_one_record_each(deployment: Deployment) -> None:
    """``--all`` requeues every dead job, one audit record each; nothing is left dead once they succeed."""
    first, second = deployment.dead_sms("one"), deployment.dead_sms("two")
    done = cli("jobs", "requeue", "--all", "--json")
    assert done.exit_code == 0, done.output
    assert sorted(row["id"] for row in json.loads(done.stdout)) == sorted([first, second])
    assert sorted(r.subject for r in deployment.audit.records()) == sorted([first, second])
    deployment.broken = False
    deployment.queue.run()
    assert len(deployment.sent) == 2 and deployment.queue.queue.dead_jobs() == []


def test_jobs_requeue_refuses_unknown_malformed_and_ambiguous_requests(deployment: Deployment) -> None:
    """An unknown id exits 3 with a message, a malformed one 2, no id or an id with --all 2; nothing is audited
    and the dead job stays dead."""
    job_id = deployment.dead_sms("sms")
    unknown = cli("jobs", "requeue", deployment.queue.jid("nothing"))
    assert unknown.exit_code == 3 and f"no dead job {deployment.queue.jid('nothing')}" in unknown.stderr
    assert cli("jobs", "requeue", "no/such:job").exit_code == 2
    neither, both = cli("jobs", "requeue"), cli("jobs", "requeue", job_id, "--all")
    assert neither.exit_code == both.exit_code == 2 and "--all" in neither.stderr
    assert deployment.audit.records() == []
    assert [job.job_id for job in deployment.queue.queue.dead_jobs()] == [job_id]


def test_jobs_on_the_inline_queue_say_where_its_dead_jobs_are(tmp_path: Path) -> None:
    """Without Redis the CLI cannot see the dead jobs (they live in the API server's memory): exit 6 and why."""
    services = build(Settings.for_data_dir(tmp_path))
    previous = use_services(services)
    try:
        for args in (("jobs", "dead"), ("jobs", "requeue", "--all")):
            result = cli(*args)
            assert result.exit_code == 6 and "CRYPTOPAY_REDIS_URL" in result.stderr, result.output
    finally:
        use_services(previous)
        services.close()
