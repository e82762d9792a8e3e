"""The admins' operations pages: reconciliation, treasury and float, and system health (``/console/...``).

- Reconciliation: each check's latest result as the run store kept it, whoever ran it (the worker's schedule,
  ``cryptopay reconcile``, ``/v1/admin/reconciliation`` or this page), with when, by whom, and its differences; a
  form runs the books' checks now (what ``GET /v1/admin/reconciliation`` does), kept like any other run.
- Treasury: ``Treasury.status`` over the books, as ``GET /v1/admin/treasury``: the M-Pesa float (books, M-Pesa's
  latest word, in flight, reserve, available, payouts held) and custody per network with its open sweeps.
- Health: the readiness checks of ``/readyz``, and from the worker's metric files: jobs waiting per queue, dead
  jobs and webhook dead letters, each worker file's age (a stale one is a stopped job), the chain scanners' lag in
  blocks, and when M-Pesa last answered an Account Balance query (Daraja's reachability as the books know it).

Reading the figures changes nothing, so no page here writes an audit record (a run kept is no change to the books).
"""

from __future__ import annotations

from collections import defaultdict

import attrs
from flask import Response
from prometheus_client.parser import text_string_to_metric_families

from cryptopay_http.blueprints.system import readiness, worker_metrics
from cryptopay_http.pages.console import acting, bp
from cryptopay_http.pages.web import page, redirect
from cryptopay_http.runtime import runtime

__all__ = ["Sample", "ops_health", "ops_reconcile_now", "ops_reconciliation", "ops_treasury", "samples"]


@attrs.frozen
class Sample:
    """One gauge of the worker: its name, labels and value."""

    name: str
    labels: dict[str, str]
    value: float


def samples(exposition: str, *, prefix: str = "cryptopay_") -> dict[str, list[Sample]]:
    """The samples of a Prometheus text exposition by metric name (only names starting with ``prefix``).

    >>> found = samples('# TYPE cryptopay_jobs_waiting gauge\\ncryptopay_jobs_waiting{queue="default"} 3\\n')
    >>> found["cryptopay_jobs_waiting"][0].labels["queue"], found["cryptopay_jobs_waiting"][0].value
    ('default', 3.0)
    """
    found: dict[str, list[Sample]] = defaultdict(list)
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name.startswith(prefix):
                labels = {k: v for k, v in sample.labels.items() if k != "textfile"} | {
                    "textfile": sample.labels.get("textfile", "")
                }
                found[sample.name].append(Sample(sample.name, labels, float(sample.value)))
    return dict(found)


@bp.get("/reconciliation")
def ops_reconciliation() -> Response:
    results = runtime().services.reconciliation.latest_results()
    return page(
        "console/reconciliation.html",
        results=results,
        latest=max((r.at for r in results), default=None),
        differing=[r for r in results if r.found],
        nav="reconciliation",
    )


@bp.post("/reconciliation")
def ops_reconcile_now() -> Response:
    """Run the books' checks now (no outside files); the page then shows the run's results."""
    runtime().services.reconciliation.reconcile(by="console", operator=acting())
    return redirect("/console/reconciliation")


@bp.get("/treasury")
def ops_treasury() -> Response:
    status = runtime().services.treasury.status(read_chains=False)
    return page("console/treasury.html", s=status, nav="treasury")


@bp.get("/health")
def ops_health() -> Response:
    gauges = samples(worker_metrics())
    position = runtime().services.treasury.status(read_chains=False).float
    return page(
        "console/health.html",
        checks=readiness(),
        waiting=gauges.get("cryptopay_jobs_waiting", []),
        dead=gauges.get("cryptopay_jobs_dead", []),
        dead_letters=gauges.get("cryptopay_webhook_dead_letters", []),
        workers=gauges.get("cryptopay_textfile_age_seconds", []),
        max_age=runtime().settings.metrics_textfile_max_age_seconds,
        lag=gauges.get("cryptopay_scanner_lag_blocks", []),
        unknown_payouts=gauges.get("cryptopay_payouts_unknown", []),
        daraja_as_of=position.as_of,
        daraja_source=position.source,
        nav="health",
    )
