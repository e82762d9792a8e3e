"""Monitoring for tests: the rules, the use cases over a storage backend, and movements to feed them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptopay.core.compliance.cases import Case
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.reports import Reporter, Reporting
from cryptopay.core.compliance.rules import Direction, Movement, load_rules
from cryptopay.core.money import KES, Money
from cryptopay.core.system import NAIROBI
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
REPORTER = Reporter(rentity_id="4711", officer_name="Ann Wambui", officer_email="ann@example.co.ke")
RULES = """{
  "version": 3,
  "rules": [
    {"id": "large", "kind": "large_transaction", "threshold_kes": "1000000"},
    {"id": "velocity", "kind": "velocity", "window_minutes": 60, "max_count": 5},
    {"id": "structuring", "kind": "structuring", "threshold_kes": "150000", "margin_percent": "10",
     "min_count": 3, "window_minutes": 1440, "directions": ["in"]},
    {"id": "in-out", "kind": "rapid_in_out", "window_minutes": 30, "min_percent": "80"},
    {"id": "new-account", "kind": "new_account_high_value", "account_age_days": 7, "threshold_kes": "300000"},
    {"id": "sanctioned", "kind": "sanctioned_counterparty", "blocking": true, "products": ["withdraw"]},
    {"id": "round-trip", "kind": "round_trip", "window_minutes": 1440, "min_percent": "90"},
    {"id": "high-risk", "kind": "high_risk_jurisdiction", "countries": ["KP", "IR", "MM"], "products": ["remittance"]}
  ]
}"""


class MonitoringRig:
    def __init__(self, storage: Any | None = None, *, sanctioned: frozenset[str] = frozenset()) -> None:
        self.storage = storage or InMemoryStorage(**monitoring_repositories())
        self.clock = ManualClock(START)
        self._n = 0
        self.monitoring = Monitoring(
            uow=self.storage.unit_of_work,
            rules=load_rules(RULES),
            clock=self.clock,
            ids=SequentialIds(),
            screen=lambda m: m.counterparty in sanctioned,
        )

    def movement(
        self,
        kes: str,
        *,
        party: str = "usr_otieno",
        minutes: int = 0,
        direction: Direction = Direction.IN,
        product: str = "wallet_buy",
        counterparty: str | None = None,
        since_days: int = 400,
    ) -> Movement:
        self._n += 1
        at = START + timedelta(minutes=minutes)
        return Movement(
            id=f"mv_{self._n:04d}",
            party_id=party,
            product=product,
            direction=direction,
            amount=Money.of(kes, KES),
            at=at,
            counterparty=counterparty,
            party_since=at - timedelta(days=since_days),
        )


def file_str(monitoring: Monitoring, case_id: str, officer: str, reference: str = "100234") -> Case:
    """How a case becomes reported (R12-8): its STR exported as goAML XML, then its filing recorded, dated today."""
    reporting = Reporting(uow=monitoring.uow, clock=monitoring.clock, parties_of=monitoring.parties_of)
    reporting.goaml_export(case_id, REPORTER, party_name="Otieno Odhiambo", officer=officer)
    today = monitoring.clock.now().astimezone(NAIROBI).date()
    return monitoring.file(officer, case_id, reference, today)
