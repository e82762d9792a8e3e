"""The worker's ``reconciliation.run`` over the real composition root (SQLite): gauges, and an alert on a difference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core import flows
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import KES, Money


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """An embedded deployment with no M-Pesa settings (its Account Balance question cannot be sent)."""
    built = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path / "data")}))
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
