"""Reports: the STR in goAML's XML structure and as CSV, and the monthly virtual-asset flows."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import attrs
from cryptopay.core.compliance.reports import Reporter, Reporting, goaml_xml, str_csv
from cryptopay.core.compliance.rules import Direction

from tests.support.monitoring_rig import START, MonitoringRig

REPORTER = Reporter(rentity_id="4711", officer_name="Ann Wambui", officer_email="ann@example.co.ke")


def structuring_case() -> tuple[MonitoringRig, str]:
    rig = MonitoringRig()
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500")):
        movement = attrs.evolve(rig.movement(kes, minutes=minutes), asset="USDT", network="tron", counterparty="TXa")
        rig.monitoring.observe(movement)
    [alert] = rig.monitoring.run_batch(START, START + timedelta(days=1))
    case = rig.monitoring.open_case("usr_ann", [alert.id])
    rig.monitoring.note("usr_ann", case.id, "three agents, one day")
    return rig, case.id


def test_structuring_becomes_an_str_in_goaml_xml():
    """Report header, reporting person, reason with the rule and version, one transaction per movement, indicators."""
    rig, case_id = structuring_case()
    reporting = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock)
    report = reporting.suspicious_transaction_report(case_id, REPORTER, party_name="Otieno Odhiambo")
    root = ET.fromstring(goaml_xml(report))
    assert root.tag == "report"
    assert [child.tag for child in root][:8] == [
        "rentity_id",
        "submission_code",
        "report_code",
        "entity_reference",
        "submission_date",
        "currency_code_local",
        "reporting_person",
        "reason",
    ]
    assert (root.findtext("rentity_id"), root.findtext("report_code"), root.findtext("currency_code_local")) == (
        "4711",
        "STR",
        "KES",
    )
    assert "structuring (v3)" in root.findtext("reason") and "three agents" in root.findtext("reason")
    transactions = root.findall("transaction")
    assert [t.findtext("amount_local") for t in transactions] == ["140000.00", "145000.00", "139500.00"]
    first = transactions[0]
    assert first.findtext("t_to_my_client/to_person/last_name") == "Odhiambo"  # deposits: the client receives
    assert first.findtext("t_from/from_account/account") == "TXa"
    assert first.findtext("date_transaction") == "2026-03-02T09:00:00"  # Nairobi time
    assert [i.text for i in root.findall("report_indicators/indicator")] == ["STRUCTURING"]
    with rig.storage.unit_of_work() as uow:
        assert uow.audit.records()[-1].action == "compliance.str_exported"


def test_the_str_as_csv_has_one_row_per_transaction():
    """CSV: the report reference, the movement and the rules on each row."""
    rig, case_id = structuring_case()
    report = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock).suspicious_transaction_report(
        case_id, REPORTER, party_name="Otieno Odhiambo"
    )
    rows = list(csv.DictReader(io.StringIO(str_csv(report))))
    assert [r["amount_kes"] for r in rows] == ["140000.00", "145000.00", "139500.00"]
    assert {r["rules"] for r in rows} == {"structuring@v3"} and {r["report"] for r in rows} == {f"STR-{case_id}"}


def test_monthly_flows_sum_virtual_assets_by_asset_network_and_product():
    """Only virtual-asset movements of the month count, grouped and summed in KES."""
    rig = MonitoringRig()
    feed = [
        attrs.evolve(rig.movement("1000"), asset="USDT", network="tron"),
        attrs.evolve(rig.movement("2500", minutes=5), asset="USDT", network="tron"),
        attrs.evolve(
            rig.movement("700", minutes=6, direction=Direction.OUT, product="withdraw"), asset="BTC", network="bitcoin"
        ),
        rig.movement("300", minutes=7),  # shillings only: not a virtual-asset flow
        attrs.evolve(rig.movement("9999", minutes=60 * 24 * 40), asset="USDT", network="tron"),  # next month
    ]
    for movement in feed:
        rig.monitoring.observe(movement)
    rows = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock).monthly(2026, 3)
    assert [(r.asset, r.network, r.product, r.direction, r.count, r.total_kes) for r in rows] == [
        ("BTC", "bitcoin", "withdraw", "out", 1, "700.00"),
        ("USDT", "tron", "wallet_buy", "in", 2, "3500.00"),
    ]
