"""Monitoring journal, alerts and cases: the same behaviour from the fakes, SQLite and PostgreSQL, and the
structuring journey run whole on each backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptopay.core.compliance.cases import Alert, AlertStatus, Case, CaseStatus
from cryptopay.core.errors import Conflict, NotFound, TransientConflict

from tests.support.monitoring_rig import START, MonitoringRig


@pytest.fixture
def rig(engine):
    if engine is None:
        return MonitoringRig()
    from cryptopay.adapters.sql.uow import SqlStorage

    return MonitoringRig(SqlStorage(engine))


def alert(alert_id: str, key: str, party: str = "usr_1") -> Alert:
    return Alert(
        id=alert_id,
        key=key,
        rule_id="large",
        rule_version=1,
        kind="large_transaction",
        party_id=party,
        movement_id="mv_1",
        created_at=START,
        evidence={"amount": "1200000.00"},
    )


def test_the_journal_keeps_a_movement_once_and_reads_by_party_and_period(rig):
    """A second add of an id is refused quietly; reads by party since a time, and by period in id order."""
    first, second = rig.movement("100", minutes=0), rig.movement("200", minutes=90, party="usr_2")
    with rig.storage.unit_of_work() as uow:
        assert uow.movements.add(first) and uow.movements.add(second)
        assert not uow.movements.add(first)
    with rig.storage.unit_of_work() as uow:
        assert uow.movements.for_party("usr_otieno", since=START) == [first]
        assert uow.movements.for_party("usr_otieno", since=START + timedelta(minutes=1)) == []
        assert uow.movements.between(START, START + timedelta(hours=2)) == [first, second]
        assert uow.movements.between(START, START + timedelta(hours=2), after=first.id) == [second]
        assert uow.movements.between(START, START + timedelta(minutes=90)) == [first]


def test_an_alert_key_is_stored_once_and_alerts_list_by_status(rig):
    """Same key, second alert refused; updates stored; listing filters by status."""
    with rig.storage.unit_of_work() as uow:
        assert uow.alerts.add(alert("alr_1", "large:1:mv_1"))
        assert not uow.alerts.add(alert("alr_2", "large:1:mv_1"))
        assert uow.alerts.add(alert("alr_3", "large:1:mv_3"))
    with rig.storage.unit_of_work() as uow:
        found = uow.alerts.get("alr_1")
        assert found == alert("alr_1", "large:1:mv_1")
        found.status, found.case_id = AlertStatus.IN_CASE, "cas_1"
        uow.alerts.update(found)
    with rig.storage.unit_of_work() as uow:
        assert [a.id for a in uow.alerts.list(status=AlertStatus.OPEN)] == ["alr_3"]
        assert [a.id for a in uow.alerts.list(after="alr_1")] == ["alr_3"]
        with pytest.raises(NotFound):
            uow.alerts.update(alert("alr_9", "x"))


def test_cases_round_trip_with_notes_and_list_by_status(rig):
    """A case with notes comes back equal; ids are unique; listing filters by status."""
    case = Case(id="cas_1", party_id="usr_1", alert_ids=("alr_1",), created_at=START, deadline=START, assignee="a")
    case.add_note("usr_ann", "called the customer", at=START)
    with rig.storage.unit_of_work() as uow:
        uow.cases.add(case)
        with pytest.raises(Conflict):
            uow.cases.add(case)
    with rig.storage.unit_of_work() as uow:
        assert uow.cases.get("cas_1") == case
        case.move(CaseStatus.ESCALATED, "usr_ann", at=START, note="to the MLRO")
        uow.cases.update(case)
    with rig.storage.unit_of_work() as uow:
        assert [c.id for c in uow.cases.list(status=CaseStatus.ESCALATED)] == ["cas_1"]
        assert uow.cases.list(status=CaseStatus.OPEN) == []


def test_a_case_keeps_its_str_exports_and_filing_and_one_report_id_is_one_case(rig):
    """The exports and the filing round-trip; ``filed_as`` finds the case by the FRC's report id; a second case
    stored with the same report id is refused as a lost race (the unique index)."""
    case = Case(id="cas_1", party_id="usr_1", alert_ids=("alr_1",), created_at=START, deadline=START)
    case.exported("usr_ann", b"<report/>", at=START)
    case.file("usr_ann", "100234", START.date(), at=START)
    other = Case(id="cas_2", party_id="usr_2", alert_ids=("alr_2",), created_at=START, deadline=START)
    other.exported("usr_ann", b"<report/>", at=START)
    with rig.storage.unit_of_work() as uow:
        uow.cases.add(case)
        uow.cases.add(other)
    with rig.storage.unit_of_work() as uow:
        assert uow.cases.get("cas_1") == case and uow.cases.get("cas_1").filing.reference == "100234"
        assert (uow.cases.filed_as("100234"), uow.cases.filed_as("100235")) == ("cas_1", None)
    other.file("usr_ann", "100234", START.date(), at=START)
    with pytest.raises(TransientConflict), rig.storage.unit_of_work() as uow:
        uow.cases.update(other)
    with rig.storage.unit_of_work() as uow:
        assert uow.cases.get("cas_2").filing is None


def test_structuring_becomes_one_alert_and_a_case_on_each_backend(rig):
    """The journey: a day of deposits just under the threshold, the batch, the case."""
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500")):
        rig.monitoring.observe(rig.movement(kes, minutes=minutes))
    [raised] = rig.monitoring.run_batch(START, START + timedelta(days=1))
    assert rig.monitoring.run_batch(START, START + timedelta(days=1)) == []
    case = rig.monitoring.open_case("usr_ann", [raised.id])
    assert rig.monitoring.case(case.id).alert_ids == (raised.id,)


def test_sanctions_snapshots_entries_and_addresses_on_each_backend(rig):
    """Screening over each backend: import both lists, screen a name and an address, re-import changes nothing."""
    from pathlib import Path

    from cryptopay.adapters.sanctions import RapidfuzzMatcher, parse_list
    from cryptopay.core.compliance.screening import Screening
    from cryptopay.core.testing.system import SequentialIds

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "sanctions"
    service = Screening(uow=rig.storage.unit_of_work, matcher=RapidfuzzMatcher(), clock=rig.clock, ids=SequentialIds())
    for name in ("sdn.xml", "un_consolidated.xml", "sdn.xml"):
        parsed = parse_list((fixtures / name).read_bytes())
        service.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    assert [(s.source, s.entries, s.addresses) for s in service.snapshots()] == [
        ("ofac_sdn", 3, 4),
        ("un_consolidated", 2, 0),
    ]
    with rig.storage.unit_of_work() as uow:
        [snapshot, _] = uow.sanctions.snapshots()
        assert uow.sanctions.latest("ofac_sdn") == snapshot
        assert [e.ref for e in uow.sanctions.entries(snapshot.id)] == ["ofac:30001", "ofac:30002", "ofac:36"]
    assert [m.ref for m in service.screen_address("polygon", "0x8576ACC5C05D6CE88F4E49BF65BDF0C62F91353C")] == [
        "ofac:30001"
    ]
    assert [m.ref for m in service.screen_name("ri won-ho")] == ["un:KPi.001"]
