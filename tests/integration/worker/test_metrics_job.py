"""The worker's ``metrics.measure`` over the real composition root (SQLite, and PostgreSQL for what only it has):
the business gauges' text file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build

from tests.support.sql_backends import migrated_sqlite, postgres_database

QUEUE_USAGE = "cryptopay_pg_notification_queue_usage_ratio"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data")}
    migrated_sqlite(env)
    built = build(Settings.from_env(env))
    yield built
    built.close()


def test_the_scheduled_measure_writes_the_business_gauges(services: Services) -> None:
    """One run writes business.prom with invoices by state, payments seen and confirmed, payouts by state,
    settlements overdue, the queue backlog, dead letters, dead jobs and remittances (by state, awaiting status)."""
    services.jobs["metrics.measure"]({})
    text = (services.settings.data_dir / "metrics" / "business.prom").read_text()
    for line in (
        'cryptopay_payouts{state="unknown"} 0',
        "cryptopay_settlements_overdue 0",
        "cryptopay_webhook_dead_letters 0",
        "cryptopay_webhook_dead_letters_total 0",
        "# TYPE cryptopay_webhook_dead_letters_total counter",
        "cryptopay_jobs_dead 0",
        'cryptopay_invoices{state="new"} 0',
        "cryptopay_payments_unconfirmed 0",
        "cryptopay_payments_confirmed 0",
        'cryptopay_jobs_waiting{queue="inline"} 0',
        'cryptopay_remittances{state="paying_out"} 0',
        "cryptopay_remittances_awaiting_status 0",
        "cryptopay_remittance_awaiting_status_oldest_seconds 0",
        "cryptopay_sanctions_lists_loaded 0",  # none imported: CryptopaySanctionsListsMissing pages
        'cryptopay_screening_waiting{kind="withdrawal"} 0',  # what waits for a list (R12-3), by kind
        'cryptopay_screening_waiting{kind="refund"} 0',
        'cryptopay_screening_waiting{kind="remittance"} 0',
        'cryptopay_screening_waiting{kind="kyc_application"} 0',
        "cryptopay_held_payments_waiting 0",
        "cryptopay_held_deposits_waiting 0",
        "cryptopay_aml_alerts_open 0",
        "cryptopay_aml_blocking_alerts_open 0",
        "cryptopay_compliance_cases_overdue 0",
    ):
        assert line in text
    assert QUEUE_USAGE not in text  # SQLite has no NOTIFY queue: no gauge rather than a made-up 0


def test_on_postgresql_the_measure_also_reads_how_full_the_notify_queue_is(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    """On PostgreSQL, business.prom carries ``pg_notification_queue_usage()``, a fraction between 0 and 1 that
    docs/alerts.rules.yml pages on (a listener that stopped reading lets it grow until invoice updates fail)."""
    with postgres_database(postgres_admin_url, "cryptopay_metrics") as url:
        env = {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data"), "CRYPTOPAY_DATABASE_URL": url}
        built = build(Settings.from_env(env))
        try:
            built.jobs["metrics.measure"]({})
        finally:
            built.close()
    text = (tmp_path / "data" / "metrics" / "business.prom").read_text()
    (value,) = [line.split()[1] for line in text.splitlines() if line.startswith(QUEUE_USAGE + " ")]
    assert 0.0 <= float(value) <= 1.0
    assert f"# HELP {QUEUE_USAGE} " in text
