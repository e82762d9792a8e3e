"""A case becomes reported only with its STR filed (R12-8): exported as goAML XML, then the FRC's report id and date."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from cryptopay.core.compliance.cases import (
    CaseStatus,
    InvalidFiling,
    StrNotExported,
    StrNotFiled,
    StrReferenceInUse,
    filing_date,
)
from cryptopay.core.compliance.reports import Reporting
from cryptopay.core.errors import InvalidInput, InvalidState

from tests.support.monitoring_rig import REPORTER, START, MonitoringRig

TODAY = date(2026, 3, 2)  # START in Nairobi


def opened(rig: MonitoringRig, party: str = "usr_otieno") -> str:
    rig.monitoring.observe(rig.movement("1200000", party=party))
    [alert] = rig.monitoring.run_batch(START - timedelta(days=1), START + timedelta(days=1))
    return rig.monitoring.open_case("usr_ann", [alert.id]).id


def actions(rig: MonitoringRig) -> list[tuple[str, dict[str, str]]]:
    with rig.storage.unit_of_work() as uow:
        return [(r.action, dict(r.details)) for r in uow.audit.records() if r.action.startswith("compliance.str")]


def export(rig: MonitoringRig, case_id: str) -> bytes:
    reporting = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock)
    return reporting.goaml_export(case_id, REPORTER, party_name="Otieno Odhiambo", officer="usr_ann")[1]


def test_a_status_move_to_reported_is_refused_and_changes_nothing():
    """Reporting by status (even with a note) is a 422 ``str_not_filed``; the case stays as it was."""
    rig = MonitoringRig()
    case_id = opened(rig)
    with pytest.raises(StrNotFiled) as refused:
        rig.monitoring.move("usr_ann", case_id, CaseStatus.REPORTED, "STR filed")
    assert (refused.value.http_status, refused.value.exit_code, refused.value.code) == (422, 5, "str_not_filed")
    case = rig.monitoring.case(case_id)
    assert (case.status, case.notes, case.filing) == (CaseStatus.OPEN, (), None)
    with pytest.raises(InvalidInput), rig.storage.unit_of_work() as uow:  # nor does a held money decision report
        rig.monitoring.conclude(uow, "usr_ann", case.alert_ids, CaseStatus.REPORTED, "kept")


def test_a_filing_needs_an_export_of_the_xml():
    """No goAML export yet: ``str_not_exported``; a CSV export is not one (it is not what goAML takes)."""
    rig = MonitoringRig()
    case_id = opened(rig)
    Reporting(uow=rig.storage.unit_of_work, clock=rig.clock).suspicious_transaction_report(
        case_id, REPORTER, party_name="Otieno Odhiambo", officer="usr_ann"
    )
    with pytest.raises(StrNotExported) as refused:
        rig.monitoring.file("usr_ann", case_id, "100234", TODAY)
    assert refused.value.code == "str_not_exported" and rig.monitoring.case(case_id).status is CaseStatus.OPEN
    assert [a for a, _ in actions(rig)] == ["compliance.str_exported"]


def test_an_export_is_kept_on_the_case_with_the_digest_of_its_xml():
    """Who, when and the XML's SHA-256, on the case and in the audit record."""
    rig = MonitoringRig()
    case_id = opened(rig)
    xml = export(rig, case_id)
    [kept] = rig.monitoring.case(case_id).str_exports
    assert (kept.officer, kept.at, kept.digest) == ("usr_ann", START, hashlib.sha256(xml).hexdigest())
    [(_, details)] = actions(rig)
    assert (details["format"], details["digest"]) == ("xml", kept.digest)


@pytest.mark.parametrize(
    ("reference", "filed_on", "field"),
    [
        ("", TODAY, "reference"),
        ("   ", TODAY, "reference"),
        ("1" * 65, TODAY, "reference"),
        ("1002\x0034", TODAY, "reference"),
        ("1002\u200b34", TODAY, "reference"),
        ("100234", TODAY + timedelta(days=1), "filed_on"),
        ("100234", TODAY - timedelta(days=1), "filed_on"),
    ],
)
def test_a_filing_with_a_bad_reference_or_date_is_refused(reference, filed_on, field):
    """Report id: 1 to 64 printable ASCII characters; date: not in the future, not before the export."""
    rig = MonitoringRig()
    case_id = opened(rig)
    export(rig, case_id)
    with pytest.raises(InvalidFiling) as refused:
        rig.monitoring.file("usr_ann", case_id, reference, filed_on)
    assert (refused.value.http_status, refused.value.details["field"]) == (422, field)
    assert rig.monitoring.case(case_id).filing is None and len(actions(rig)) == 1


def test_a_filing_moves_the_case_to_reported_once():
    """Reference, date, officer and the export filed on the case; audited; a second filing is refused."""
    rig = MonitoringRig()
    case_id = opened(rig)
    xml = export(rig, case_id)
    rig.clock.advance(days=2)
    export(rig, case_id)  # a later export is not the one filed on the 2nd
    rig.clock.advance(hours=1)
    case = rig.monitoring.file("usr_bob", case_id, " 100234 ", TODAY, "filed by the MLRO")
    assert case.status is CaseStatus.REPORTED and case.closed_at == rig.clock.now()
    filing = case.filing
    assert filing is not None and (filing.reference, filing.filed_on, filing.officer) == ("100234", TODAY, "usr_bob")
    assert filing.export_digest == hashlib.sha256(xml).hexdigest()
    assert (
        case.notes[-1].text == "[reported] STR filed with the FRC on 2026-03-02: goAML report 100234. filed by the MLRO"
    )
    assert rig.monitoring.case(case_id) == case
    digest = filing.export_digest
    assert actions(rig)[-1] == (
        "compliance.str_filed",
        {"reference": "100234", "filed_on": "2026-03-02", "digest": digest},
    )
    with pytest.raises(InvalidState):
        rig.monitoring.file("usr_bob", case_id, "100234", TODAY)


def test_one_goaml_report_is_the_filing_of_one_case():
    """A report id already recorded on another case is a 409 ``str_reference_in_use``."""
    rig = MonitoringRig()
    first, second = opened(rig), opened(rig, party="usr_wanjiru")
    for case_id in (first, second):
        export(rig, case_id)
    rig.monitoring.file("usr_ann", first, "100234", TODAY)
    with pytest.raises(StrReferenceInUse) as refused:
        rig.monitoring.file("usr_ann", second, "100234", TODAY)
    assert (refused.value.http_status, refused.value.code) == (409, "str_reference_in_use")
    assert rig.monitoring.case(second).status is CaseStatus.OPEN


@pytest.mark.parametrize("typed", ["", "2026-3-2", "20260302", "2026-02-30", "tomorrow"])
def test_a_typed_filing_date_is_an_iso_date(typed):
    """The shells read ``YYYY-MM-DD`` only."""
    with pytest.raises(InvalidFiling):
        filing_date(typed)
