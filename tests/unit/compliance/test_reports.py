"""Reports: the STR in goAML's XML structure and as CSV, and the monthly virtual-asset flows."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import attrs
import pytest
from cryptopay.core.compliance.reports import Reporter, Reporting, goaml_xml, str_csv
from cryptopay.core.compliance.rules import Direction

from tests.support.monitoring_rig import START, MonitoringRig, file_str

REPORTER = Reporter(rentity_id="4711", officer_name="Ann Njeri  Wambui", officer_email="ann@example.co.ke")


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
    report = reporting.suspicious_transaction_report(case_id, REPORTER, party_name="Otieno Odhiambo", officer="usr_ann")
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
    person = root.find("reporting_person")  # R14-5: the last word is the last name
    assert [(c.tag, c.text) for c in person] == [
        ("first_name", "Ann Njeri"),
        ("last_name", "Wambui"),
        ("email", "ann@example.co.ke"),
        ("occupation", "Compliance officer"),
    ]
    assert "structuring (v3)" in root.findtext("reason") and "three agents" in root.findtext("reason")
    transactions = root.findall("transaction")
    assert [t.findtext("amount_local") for t in transactions] == ["140000.00", "145000.00", "139500.00"]
    first = transactions[0]
    assert first.findtext("t_to_my_client/to_person/last_name") == "Odhiambo"  # deposits: the client receives
    assert first.findtext("t_from/from_account/account") == "TXa"
    assert first.findtext("date_transaction") == "2026-03-02T09:00:00"  # Nairobi time
    assert [i.text for i in root.findall("report_indicators/indicator")] == ["STRUCTURING"]
    with rig.storage.unit_of_work() as uow:
        exported = uow.audit.records()[-1]
    # the officer by user id, as every other officer action (review14 R14-8), not by the email in the report
    assert (exported.action, exported.actor) == ("compliance.str_exported", "user:usr_ann")


def _transaction_xml(movement) -> ET.Element:
    from cryptopay.core.compliance.reports import _transaction

    root = ET.Element("report")
    _transaction(root, movement, "Acme Traders Limited" if movement.party_id.startswith("mer_") else "Otieno Odhiambo")
    return root.find("transaction")


@pytest.mark.parametrize("direction", [Direction.IN, Direction.OUT])
def test_an_str_transaction_follows_goamls_sequence_whichever_side_the_client_is(direction):
    """The from-side precedes the to-side and an account's children are in ``t_account`` order (review12 R12-1):
    the FRC's portal validates uploads against the XSD, which checks order, not only names."""
    rig = MonitoringRig()
    movement = attrs.evolve(
        rig.movement("140000"), direction=direction, asset="USDT", network="tron", counterparty="TXa", country="gb"
    )
    tx = _transaction_xml(movement)
    sides = [child.tag for child in tx if child.tag.startswith("t_")]
    assert sides == (["t_from_my_client", "t_to"] if direction is Direction.OUT else ["t_from", "t_to_my_client"])
    other = "to" if direction is Direction.OUT else "from"
    counterparty = tx.find(f"t_{other}")
    assert [c.tag for c in counterparty] == [f"{other}_funds_code", f"{other}_account", f"{other}_country"]
    assert [c.tag for c in counterparty.find(f"{other}_account")] == [
        "institution_name",
        "institution_code",
        "non_bank_institution",
        "account",
    ]
    assert counterparty.findtext(f"{other}_country") == "GB"  # the remittance sender's country, when known


def test_a_merchant_client_is_filed_as_an_entity_not_a_person():
    rig = MonitoringRig()
    movement = attrs.evolve(rig.movement("90000"), party_id="mer_1", direction=Direction.IN)
    mine = _transaction_xml(movement).find("t_to_my_client")
    assert [c.tag for c in mine] == ["to_funds_code", "to_entity", "to_country"]
    assert mine.findtext("to_entity/name") == "Acme Traders Limited"
    assert mine.find("to_person") is None


def test_the_str_as_csv_has_one_row_per_transaction():
    """CSV: the report reference, the movement and the rules on each row."""
    rig, case_id = structuring_case()
    report = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock).suspicious_transaction_report(
        case_id, REPORTER, party_name="Otieno Odhiambo", officer="usr_ann"
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


def test_an_officer_never_works_or_reports_a_case_of_a_party_they_belong_to():
    """Outside review R12 on cases and STRs: the party's own officer (here the merchant's team member, ``mer_1``) is
    refused opening, reading, noting, moving, assigning and reporting its case (403 ``own_party``), each refusal
    audited ``compliance.own_party_refused``; nothing changes, and another officer works it as before."""
    from cryptopay.core.compliance.cases import CaseStatus
    from cryptopay.core.compliance.own_party import OwnParty

    rig = MonitoringRig()
    mine = {"usr_amina": frozenset({"usr_amina", "mer_1"})}
    rig.monitoring = attrs.evolve(rig.monitoring, parties_of=lambda officer: mine.get(officer, frozenset({officer})))
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500")):
        rig.monitoring.observe(attrs.evolve(rig.movement(kes, minutes=minutes, party="mer_1"), asset="USDT"))
    [alert] = rig.monitoring.run_batch(START, START + timedelta(days=1))
    reporting = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock, parties_of=rig.monitoring.parties_of)
    with pytest.raises(OwnParty) as refused:
        rig.monitoring.open_case("usr_amina", [alert.id])
    assert (refused.value.http_status, refused.value.code) == (403, "own_party")
    case = rig.monitoring.open_case("usr_ann", [alert.id])
    for act in (
        lambda: rig.monitoring.case_alerts(case.id, officer="usr_amina"),
        lambda: rig.monitoring.note("usr_amina", case.id, "mine"),
        lambda: rig.monitoring.move("usr_amina", case.id, CaseStatus.CLOSED_NO_ACTION, "nothing here"),
        lambda: rig.monitoring.assign("usr_amina", case.id, "usr_amina"),
        lambda: reporting.suspicious_transaction_report(case.id, REPORTER, party_name="Duka", officer="usr_amina"),
    ):
        with pytest.raises(OwnParty):
            act()
    with rig.storage.unit_of_work() as uow:
        refusals = [r for r in uow.audit.records() if r.action == "compliance.own_party_refused"]
        actions = {r.action for r in uow.audit.records()}
    assert [dict(r.details)["action"] for r in refusals] == [
        "compliance.case_opened",
        "compliance.case_viewed",
        "compliance.case_noted",
        "compliance.case_status",
        "compliance.case_assigned",
        "compliance.str_exported",
    ]
    assert {r.actor for r in refusals} == {"user:usr_amina"} and "compliance.str_exported" not in actions
    after = rig.monitoring.case(case.id)
    assert (after.status, after.notes, after.assignee) == (CaseStatus.OPEN, (), "usr_ann")
    file_str(rig.monitoring, case.id, "usr_ann")  # another officer works it
    assert reporting.suspicious_transaction_report(case.id, REPORTER, party_name="Duka", officer="usr_ann").alerts


@pytest.mark.parametrize("name", [None, "", "   ", "Ann"])
def test_an_officer_without_a_first_and_last_name_files_no_str(name):
    """Review14 R14-5: the reporting person is a named person, never the officer's email: an officer whose account
    has no first and last name is refused (422, naming how to set one) before anything is read, kept or audited."""
    from cryptopay.core.errors import InvalidInput

    rig, case_id = structuring_case()
    reporting = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock)
    nameless = attrs.evolve(REPORTER, officer_name=name)
    with rig.storage.unit_of_work() as uow:
        before = len(uow.audit.records())
    with pytest.raises(InvalidInput) as refused:
        reporting.goaml_export(case_id, nameless, party_name="Otieno Odhiambo", officer="usr_ann")
    assert refused.value.details["field"] == "officer" and "cryptopay users set-name ann@example.co.ke" in str(
        refused.value
    )
    with rig.storage.unit_of_work() as uow:
        assert len(uow.audit.records()) == before
    assert rig.monitoring.case(case_id).str_exports == ()


def test_a_rapid_in_and_outs_str_shows_what_arrived_as_well_as_what_left():
    """Review14 R14-5: the STR of a rapid in-and-out carries the buy whose quick exit the rule flagged, not only the
    movements out; an alert raised before its evidence listed ``arrivals`` finds them by its window."""
    rig = MonitoringRig()
    feed = [
        rig.movement("5000", minutes=-60),  # arrived before the window: not part of the pattern
        rig.movement("1000", minutes=0),
        rig.movement("300", minutes=5, direction=Direction.OUT, product="p2p", counterparty="usr_juma"),
        rig.movement("600", minutes=10, direction=Direction.OUT, product="wallet_sell", counterparty="254712000001"),
    ]
    for movement in feed:
        rig.monitoring.observe(movement)
    alerts = rig.monitoring.run_batch(START - timedelta(hours=2), START + timedelta(hours=1))
    [alert] = [a for a in alerts if a.kind == "rapid_in_out"]
    assert alert.evidence["arrivals"] == feed[1].id
    case = rig.monitoring.open_case("usr_ann", [alert.id])
    reporting = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock)

    def reported() -> list[tuple[str, str | None]]:
        root = ET.fromstring(reporting.goaml_export(case.id, REPORTER, party_name="Otieno", officer="usr_ann")[1])
        return [(t.findtext("transactionnumber"), t[-1].tag) for t in root.findall("transaction")]

    both_halves = [(feed[1].id, "t_to_my_client"), (feed[2].id, "t_to"), (feed[3].id, "t_to")]
    assert reported() == both_halves
    with rig.storage.unit_of_work() as uow:  # as an alert raised before R14-5 kept it
        older = uow.alerts.get(alert.id)
        older.evidence = {k: v for k, v in older.evidence.items() if k != "arrivals"}
        uow.alerts.update(older)
    assert reported() == both_halves


def test_a_round_trips_str_shows_the_way_out_and_every_part_of_the_way_back():
    """What went to a counterparty and each part that came back from it (``returning``), not only the last part."""
    rig = MonitoringRig()
    feed = [
        rig.movement("1000", direction=Direction.OUT, product="withdraw", counterparty="TXa"),
        rig.movement("500", minutes=60, product="wallet_deposit", counterparty="TXa"),
        rig.movement("500", minutes=120, product="wallet_deposit", counterparty="TXa"),
    ]
    for movement in feed:
        rig.monitoring.observe(movement)
    [alert] = [a for a in rig.monitoring.run_batch(START, START + timedelta(hours=3)) if a.kind == "round_trip"]
    case = rig.monitoring.open_case("usr_ann", [alert.id])
    report = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock).suspicious_transaction_report(
        case.id, REPORTER, party_name="Otieno Odhiambo", officer="usr_ann"
    )
    assert [m.id for m in report.movements] == [m.id for m in feed]


def test_an_internal_wallet_transfer_is_filed_on_the_platform_with_our_client_on_the_other_side():
    """Review14 R14-5: a P2P send never touches M-Pesa: its location is the platform, and its recipient, our client,
    is ``t_to_my_client`` named as the KYC knows them (a received send's sender ``t_from_my_client``); a recipient
    the KYC does not name (a phone not yet signed up) is an account on the platform, not at M-Pesa."""
    rig = MonitoringRig()
    feed = [
        rig.movement("1000"),
        attrs.evolve(
            rig.movement("300", minutes=5, direction=Direction.OUT, product="p2p", counterparty="usr_juma"),
            asset="USDT",
        ),
        attrs.evolve(
            rig.movement("200", minutes=6, direction=Direction.OUT, product="p2p", counterparty="254712000002"),
            asset="USDT",
        ),
        rig.movement("400", minutes=7, product="p2p", counterparty="usr_juma"),
        rig.movement("900", minutes=10, direction=Direction.OUT, product="wallet_sell", counterparty="254712000001"),
    ]
    for movement in feed:
        rig.monitoring.observe(movement)
    alerts = rig.monitoring.run_batch(START, START + timedelta(hours=1))
    case = rig.monitoring.open_case("usr_ann", [a.id for a in alerts])
    names = {"usr_juma": "Juma Otieno Mwangi"}
    reporting = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock, party_names=lambda p: names.get(p, p))
    root = ET.fromstring(reporting.goaml_export(case.id, REPORTER, party_name="Amina Ali", officer="usr_ann")[1])
    tx = {t.findtext("transactionnumber"): t for t in root.findall("transaction")}
    sent, to_phone, received, sold = (tx[m.id] for m in feed[1:])
    assert sent.findtext("transaction_location") == "cryptopay (internal wallet transfer)"
    assert [c.tag for c in sent if c.tag.startswith("t_")] == ["t_from_my_client", "t_to_my_client"]
    recipient = sent.find("t_to_my_client")
    assert [c.tag for c in recipient] == ["to_funds_code", "to_person", "to_country"]
    assert [(c.tag, c.text) for c in recipient.find("to_person")] == [
        ("first_name", "Juma Otieno"),
        ("last_name", "Mwangi"),
        ("comments", "client id usr_juma"),
    ]
    assert [c.tag for c in received if c.tag.startswith("t_")] == ["t_from_my_client", "t_to_my_client"]
    assert received.findtext("t_from_my_client/from_person/last_name") == "Mwangi"
    assert received.findtext("t_to_my_client/to_person/last_name") == "Ali"
    assert [(c.tag, c.text) for c in to_phone.find("t_to/to_account")] == [
        ("institution_name", "cryptopay"),
        ("institution_code", "4711"),
        ("non_bank_institution", "true"),
        ("account", "254712000002"),
    ]
    assert sold.findtext("transaction_location") == "M-Pesa"  # a sale paid out by M-Pesa stays M-Pesa's
    assert sold.findtext("t_to/to_account/institution_name") == "M-Pesa"
