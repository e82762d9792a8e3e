"""``cryptopay jobs``: the background jobs that failed on every attempt; run them again (operators; audited).

``dead`` shows each dead job's id, job name, when it failed and the last line of its error, never its payload (a
job's arguments may carry personal data). ``requeue`` runs one (or ``--all``) again with a fresh set of retries;
each is a ``job.requeued`` audit record naming the operator. Exit 3 for an unknown dead job, 2 for a malformed
id, 6 without ``CRYPTOPAY_REDIS_URL`` (the inline queue keeps its dead jobs inside the process that ran them).
"""

from __future__ import annotations

import typer
from cryptopay.core.dead_jobs import DeadJob

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_rows, errors_to_exit_codes, fail

app = typer.Typer(help="Background jobs: list the dead ones, requeue one or all (audited).", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_COLUMNS = ("id", "job", "failed_at", "error")


def _view(job: DeadJob) -> dict[str, object]:
    return {"id": job.job_id, "job": job.job_name, "failed_at": job.failed_at, "error": job.error}


@app.command("dead")
def dead(
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    as_json: bool = _JSON,
) -> None:
    """The dead jobs: id, job name, when it failed, the last line of its error (never its payload)."""
    with errors_to_exit_codes():
        found = services().dead_jobs.list_dead(limit=limit)
    emit_rows([_view(job) for job in found], as_json, "no dead jobs", _COLUMNS)


@app.command("requeue")
def requeue(
    job_id: str | None = typer.Argument(None, help="The dead job's id (from `cryptopay jobs dead`)."),
    every: bool = typer.Option(False, "--all", help="Requeue every dead job."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    as_json: bool = _JSON,
) -> None:
    """Run a dead job (or all of them) again with a fresh set of retries; every job is idempotent."""
    if (job_id is None) == (not every):
        raise fail("name one dead job's id, or --all", 2)
    who = operator(actor)
    with errors_to_exit_codes():
        jobs = services().dead_jobs
        done = jobs.requeue_all(actor=who) if every else [jobs.requeue(str(job_id), actor=who)]
    rows = [_view(job) for job in done]
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            typer.echo(f"dead job {row['id']} ({row['job']}) queued again")
        if every:
            typer.echo(f"{len(rows)} dead jobs queued again")
