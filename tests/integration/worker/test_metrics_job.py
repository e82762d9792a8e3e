"""The worker's ``metrics.measure`` over the real composition root (SQLite): the business gauges' text file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build

from tests.support.sql_backends import migrated_sqlite


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
        "cryptopay_jobs_dead 0",
        'cryptopay_invoices{state="new"} 0',
        "cryptopay_payments_unconfirmed 0",
        "cryptopay_payments_confirmed 0",
        'cryptopay_jobs_waiting{queue="inline"} 0',
        'cryptopay_remittances{state="paying_out"} 0',
        "cryptopay_remittances_awaiting_status 0",
        "cryptopay_remittance_awaiting_status_oldest_seconds 0",
    ):
        assert line in text
