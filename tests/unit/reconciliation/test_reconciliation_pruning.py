"""Stored reconciliation runs are pruned by ``RunRetention`` (data): clean runs after weeks, differences after years."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from cryptopay.core.reconciliation import Reconciliation, RunRetention
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.reconciliation import InMemoryReconciliationRuns


def test_the_daily_prune_drops_clean_runs_past_their_days_and_keeps_each_checks_latest():
    """Runs every 30 minutes for two days on clean books; with clean runs kept one day, the prune drops the first
    day's results and keeps the last day's and each check's latest; the clock decides, through ``RunRetention``."""
    stack = PaymentsStack()
    runs = InMemoryReconciliationRuns()
    reconciliation = Reconciliation(
        uow=stack.uow,
        ledger=stack.ledger,
        clock=stack.clock,
        runs=runs,
        ids=stack.ids,
        retention=RunRetention(clean=timedelta(days=1), with_differences=timedelta(days=7)),
    )
    for _ in range(96):
        reconciliation.reconcile(by="schedule")
        stack.clock.advance(minutes=30)
    checks = len(reconciliation.checks)
    latest = reconciliation.latest_results()
    pruned = reconciliation.prune_runs()
    assert pruned == 48 * checks  # the first day's 48 runs (the run read exactly a day before now stays)
    assert reconciliation.latest_results() == latest
    assert reconciliation.prune_runs() == 0
    stack.clock.advance(days=2)
    assert reconciliation.prune_runs() == 48 * checks - checks  # all but each check's latest


def test_a_retention_keeps_differences_no_shorter_than_clean_runs_and_a_day_at_least():
    """Keeping differences for less time than clean runs, or anything under a day, is refused as data."""
    with pytest.raises(ValueError, match="a day at least"):
        RunRetention(clean=timedelta(hours=1))
    with pytest.raises(ValueError, match="no shorter than clean"):
        RunRetention(clean=timedelta(days=30), with_differences=timedelta(days=7))
    assert attrs.asdict(RunRetention()) == {"clean": timedelta(days=30), "with_differences": timedelta(days=2557)}
