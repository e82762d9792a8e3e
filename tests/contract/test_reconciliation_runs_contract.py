"""Reconciliation run stores (memory, SQLite, PostgreSQL): every run kept once, the latest result of each check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.sql.repositories.reconciliation import SqlReconciliationRuns
from cryptopay.core.errors import Conflict
from cryptopay.core.reconciliation import Check, CheckResult, Difference, Report
from cryptopay.core.reconciliation.model import KEPT_DIFFERENCES
from cryptopay.core.testing.reconciliation import InMemoryReconciliationRuns
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.sql_engines import BACKENDS, backend_engine

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _never(_records):
    """Nothing to compare."""
    return []


FLOAT = Check("float", "mpesa", _never)
STATEMENT = Check("statement", "mpesa", _never)
LEDGER = Check("trial_balance", "books", _never)


@pytest.fixture(params=BACKENDS)
def runs(request, tmp_path):
    for engine in backend_engine(request, tmp_path):
        yield InMemoryReconciliationRuns() if engine is None else SqlReconciliationRuns(engine)


def differences(n: int) -> tuple[Difference, ...]:
    return tuple(Difference(f"p_{i}", "paid", "failed", detail=f"row {i}") for i in range(n))


def report(minutes: int, *results: CheckResult) -> Report:
    return Report(NOW + timedelta(minutes=minutes), results)


def test_each_check_shows_its_latest_run_that_ran_with_who_ran_it_and_its_differences(runs):
    """The CLI's run with M-Pesa's statement stays the statement check's latest while later scheduled runs skip it;
    a check that never ran shows its latest skip; every field and difference comes back as it was kept."""
    with_statement = report(0, CheckResult(FLOAT, ()), CheckResult(STATEMENT, differences(2)))
    runs.add(with_statement.records("rcn_1", "cli"))
    scheduled = report(15, CheckResult(FLOAT, differences(1)), CheckResult(STATEMENT, (), "no statement given"))
    runs.add(scheduled.records("rcn_2", "schedule"))
    runs.add(report(30, CheckResult(LEDGER, (), "no ledger")).records("rcn_3", "console"))
    latest = {r.name: r for r in runs.latest_per_check()}
    assert [r.name for r in runs.latest_per_check()] == ["trial_balance", "float", "statement"]  # by area, name
    assert (latest["float"].run_id, latest["float"].by, latest["float"].found) == ("rcn_2", "schedule", 1)
    assert latest["float"].differences == differences(1) and not latest["float"].ok
    statement = latest["statement"]
    assert (statement.run_id, statement.by, statement.at, statement.skipped) == ("rcn_1", "cli", NOW, "")
    assert statement.differences == differences(2) and statement.area == "mpesa"
    assert latest["trial_balance"].skipped == "no ledger" and latest["trial_balance"].about == "Nothing to compare."


def test_a_run_is_kept_once_and_a_refused_run_changes_nothing(runs):
    """Adding a run id again is a Conflict, and none of that second batch is kept."""
    runs.add(report(0, CheckResult(FLOAT, ())).records("rcn_1", "api"))
    with pytest.raises(Conflict):
        runs.add(report(5, CheckResult(LEDGER, differences(3)), CheckResult(FLOAT, ())).records("rcn_1", "api"))
    assert [(r.name, r.at) for r in runs.latest_per_check()] == [("float", NOW)]


def test_a_check_keeps_its_first_differences_and_how_many_it_found(runs):
    """A check with more differences than are kept stores the first ``KEPT_DIFFERENCES`` and the full count."""
    many = KEPT_DIFFERENCES + 7
    runs.add(report(0, CheckResult(FLOAT, differences(many))).records("rcn_1", "schedule"))
    [kept] = runs.latest_per_check()
    assert kept.found == many and kept.differences == differences(KEPT_DIFFERENCES)


def test_who_runs_a_reconciliation_is_one_of_the_known_callers():
    """A run named by anyone but the schedule, the CLI, the console or the API is refused before it is kept."""
    with pytest.raises(ValueError, match="schedule, cli, console, api"):
        report(0, CheckResult(FLOAT, ())).records("rcn_1", "someone")


EXAMPLES = iter(range(10**6))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), min_size=1, max_size=8))
def test_the_latest_is_the_newest_that_ran_else_the_newest_skip(runs, history):
    """Whatever order runs arrive in, each check's latest is the newest run in which it ran, else its newest skip
    (each example its own check and runs, in the one store)."""
    example = next(EXAMPLES)
    check = Check(f"check_{example}", "hypothesis", _never)
    for n, (minutes, ran) in enumerate(history):
        result = CheckResult(check, ()) if ran else CheckResult(check, (), "skipped")
        runs.add(report(minutes, result).records(f"rcn_{example}_{n:03d}", "schedule"))
    ranked = sorted(((ran, m, f"rcn_{example}_{n:03d}") for n, (m, ran) in enumerate(history)), reverse=True)
    [latest] = [r for r in runs.latest_per_check() if r.name == check.name]
    assert (latest.run_id, latest.at, not latest.skipped) == (
        ranked[0][2],
        NOW + timedelta(minutes=ranked[0][1]),
        ranked[0][0],
    )


def test_pruning_keeps_differences_for_their_period_clean_runs_for_theirs_and_each_checks_latest(runs):
    """Clean and skipped results older than the clean cutoff go, results with differences only past theirs; each
    check's latest result stays however old, so ``latest_per_check`` is the same before and after; it says how
    many went, and a second prune finds nothing more."""
    runs.add(report(0, CheckResult(FLOAT, ()), CheckResult(STATEMENT, differences(2))).records("rcn_1", "cli"))
    runs.add(report(10, CheckResult(FLOAT, differences(1)), CheckResult(LEDGER, ())).records("rcn_2", "schedule"))
    runs.add(report(20, CheckResult(FLOAT, ()), CheckResult(STATEMENT, (), "no statement")).records("rcn_3", "api"))
    runs.add(report(90, CheckResult(FLOAT, ())).records("rcn_4", "schedule"))
    before = runs.latest_per_check()
    assert [(r.name, r.run_id) for r in before] == [
        ("trial_balance", "rcn_2"),
        ("float", "rcn_4"),
        ("statement", "rcn_1"),
    ]
    # clean results before minute 60 go (float in rcn_1, rcn_3; the skipped statement in rcn_3); differences before
    # minute 5 go too, but statement's only run that ran (rcn_1) is its latest: it stays, as does the float
    # difference of rcn_2 (minute 10) and the trial balance of rcn_2 (its latest)
    cleared = runs.prune(clean_before=NOW + timedelta(minutes=60), differences_before=NOW + timedelta(minutes=5))
    assert cleared == 3
    assert runs.latest_per_check() == before
    assert runs.prune(clean_before=NOW + timedelta(minutes=60), differences_before=NOW + timedelta(minutes=5)) == 0
    # later: the float difference of rcn_2 passes its period too; the latest of each check still stays
    assert runs.prune(clean_before=NOW + timedelta(days=1), differences_before=NOW + timedelta(days=1)) == 1
    assert runs.latest_per_check() == before


def test_pruning_an_empty_store_or_nothing_old_deletes_nothing(runs):
    """Nothing stored, or nothing past its cutoff: zero, and every result still there."""
    assert runs.prune(clean_before=NOW, differences_before=NOW) == 0
    runs.add(report(0, CheckResult(FLOAT, ()), CheckResult(LEDGER, differences(1))).records("rcn_1", "api"))
    runs.add(report(5, CheckResult(FLOAT, ()), CheckResult(LEDGER, differences(1))).records("rcn_2", "api"))
    assert runs.prune(clean_before=NOW, differences_before=NOW) == 0
    assert {r.run_id for r in runs.latest_per_check()} == {"rcn_2"}
    assert runs.prune(clean_before=NOW + timedelta(minutes=1), differences_before=NOW) == 1  # rcn_1's clean float
    assert runs.prune(clean_before=NOW + timedelta(minutes=1), differences_before=NOW + timedelta(minutes=1)) == 1
