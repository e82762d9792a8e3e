"""The worker's ``compliance.monitor`` over the real composition root (SQLite): the batch rules raise their alerts.

The batch once asked the sanctions screening (which opens a unit of work of its own) inside the movement's
transaction: on SQLite that is a second writer transaction of the same thread, refused with
``NestedWriteTransaction``, so the job failed on every run and no batch rule ever fired in an embedded deployment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.money import KES, Money

from tests.support.sql_backends import migrated_sqlite


def _build(tmp_path: Path, **env: str) -> Services:
    settings = {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data"), **env}
    migrated_sqlite(settings)
    return build(Settings.from_env(settings))


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = _build(tmp_path)
    yield built
    built.close()


def _movement(services: Services, movement_id: str, kes: str, *, counterparty: str | None = None) -> Movement:
    return Movement(
        id=movement_id,
        party_id="usr_monitored",
        product="withdraw",
        direction=Direction.OUT,
        amount=Money.of(kes, KES),
        at=services.clock.now() - timedelta(minutes=5),
        counterparty=counterparty,
        network="polygon" if counterparty else None,
    )


def test_the_batch_job_raises_the_large_value_alert_once(services: Services) -> None:
    services.monitoring.observe(_movement(services, "mv_large", "1500000", counterparty="0x" + "cd" * 20))
    services.monitoring.observe(_movement(services, "mv_small", "100", counterparty="0x" + "ef" * 20))

    services.jobs["compliance.monitor"]({})
    services.jobs["compliance.monitor"]({})  # the next run raises nothing twice

    alerts = services.monitoring.alerts()
    assert [(a.rule_id, a.movement_id) for a in alerts] == [("large-value", "mv_large")]


def test_a_batch_sanctions_rule_screens_outside_the_movements_transaction(tmp_path: Path) -> None:
    """A deployment whose sanctions rule is not blocking: the batch asks the screening for each watched movement."""
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"version": 7, "rules": [{"id": "sanctioned-late", "kind": "sanctioned_counterparty"}]}),
        encoding="utf-8",
    )
    built = _build(tmp_path, CRYPTOPAY_MONITORING_RULES=str(rules))
    try:
        built.monitoring.observe(_movement(built, "mv_out", "250", counterparty="0x" + "ab" * 20))
        built.jobs["compliance.monitor"]({})
        assert built.monitoring.alerts() == []  # no list imported: screened, nothing listed
    finally:
        built.close()
