"""The worker's ``reconciliation.run`` over the real composition root (SQLite): gauges, and an alert on a difference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core import flows
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import KES, Money

from tests.support.sql_backends import migrated_sqlite


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """An embedded deployment with no M-Pesa settings (its Account Balance question cannot be sent)."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data")}
    migrated_sqlite(env)
    built = build(Settings.from_env(env))
    yield built
    built.close()


def gauges(services: Services) -> str:
    return (services.settings.data_dir / "metrics" / "reconciliation.prom").read_text()


def alerts(services: Services) -> list[str]:
    with services.uow() as uow:
        return [r.action for r in uow.audit.records() if r.action == "reconciliation.differences"]


def test_the_scheduled_run_writes_gauges_and_alerts_on_a_difference(services: Services) -> None:
    """A clean run writes clean=1 and no alert (the balance question fails without M-Pesa settings, logged);
    after money appears in the in-flight account with no payout, the run alerts once and the gauges say so."""
    run = services.jobs["reconciliation.run"]
    run({})
    assert "cryptopay_reconciliation_clean 1" in gauges(services) and alerts(services) == []
    ledger = services.ledger
    ledger.open_account(Account(flows.IN_FLIGHT, AccountKind.LIABILITY, KES))
    ledger.open_account(Account(flows.FLOAT, AccountKind.ASSET, KES, allow_negative=True))
    ledger.transfer("stray", debit=flows.FLOAT, credit=flows.IN_FLIGHT, amount=Money.of(500, KES))
    run({})
    assert "cryptopay_reconciliation_clean 0" in gauges(services)
    assert 'cryptopay_reconciliation_differences{area="payouts",check="in-flight"} 1' in gauges(services)
    assert alerts(services) == ["reconciliation.differences"]


def test_the_daily_prune_job_drops_runs_past_the_configured_days_and_keeps_each_checks_latest(tmp_path: Path) -> None:
    """With ``CRYPTOPAY_RECONCILIATION_KEEP_DAYS=2``: results kept 3 days ago go, those of yesterday and each
    check's latest stay; a difference from 3 days ago stays (kept for the audit period)."""
    from datetime import timedelta

    from cryptopay.adapters.sql import make_engine
    from cryptopay.adapters.sql.repositories.reconciliation import SqlReconciliationRuns
    from cryptopay.core.reconciliation import Check, CheckResult, Difference, Report

    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data"), "CRYPTOPAY_RECONCILIATION_KEEP_DAYS": "2"}
    built = build(Settings.from_env(env))
    assert built.reconciliation.latest_results() == []  # the embedded database made and migrated
    engine = make_engine(built.settings.database_url)
    runs = SqlReconciliationRuns(engine)  # the table the composition root's store writes
    try:
        now, never = built.clock.now(), Check("float", "mpesa", lambda _records: [])
        differs = CheckResult(Check("in-flight", "payouts", lambda _r: []), (Difference("p_1", "paid", "failed"),))
        old, recent = now - timedelta(days=3), now - timedelta(days=1)
        runs.add(Report(old, (CheckResult(never, ()), differs)).records("rcn_old", "schedule"))
        runs.add(Report(recent, (CheckResult(never, ()),)).records("rcn_recent", "schedule"))
        built.jobs["reconciliation.prune"]({})
        kept = {(r.run_id, r.name) for r in built.reconciliation.latest_results()}
        assert kept == {("rcn_recent", "float"), ("rcn_old", "in-flight")}
        assert runs.prune(clean_before=now, differences_before=old) == 0  # nothing else left
        assert len(runs.latest_per_check()) == 2
    finally:
        engine.dispose()
        built.close()
