"""The worker's ``compliance.rescreen`` over the real composition root (SQLite): a party a new list names is frozen
through the wiring's holds, and an officer's clearing lifts it; an application a list matches is held at its
submission (R14-7)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.adapters.sanctions import parse_list
from cryptopay.core.compliance.cases import CaseStatus
from cryptopay.core.kyc import PartyKind
from cryptopay.core.kyc.applications import ApplicationState, KycApplication, PersonDetails
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.holds import SCREENING
from cryptopay.core.kyc.profile import KycProfile

from tests.support.sql_backends import migrated_sqlite

SDN = Path(__file__).resolve().parents[2] / "fixtures" / "sanctions" / "sdn.xml"


def test_the_rescreen_job_freezes_a_party_a_new_list_names_until_an_officer_clears_it(tmp_path: Path) -> None:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data")}
    migrated_sqlite(env)
    services = build(Settings.from_env(env))
    try:
        now = services.clock.now()
        person = PersonDetails(
            legal_name="Jose Ramon Nunez Garcia",
            date_of_birth=date(1990, 4, 1),
            id_type=IdType.NATIONAL_ID,
            id_number="12345678",
            phone="254712000001",
            address="Moi Avenue 12, Nairobi",
        )
        with services.uow() as uow:
            uow.kyc.add(KycProfile(party_id="usr_jose", kind=PartyKind.PERSONAL, level=1))
            uow.kyc_applications.add(
                KycApplication(
                    id="kya_jose",
                    party_id="usr_jose",
                    kind=PartyKind.PERSONAL,
                    level=1,
                    created_at=now,
                    submitted_by="usr_jose",
                    person=person,
                    state=ApplicationState.APPROVED,
                    decided_at=now,
                )
            )
        parsed = parse_list(SDN.read_bytes())
        services.screening.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
        services.jobs["compliance.rescreen"]({})
        [alert] = services.monitoring.alerts()
        with services.uow() as uow:
            held = uow.kyc.get("usr_jose")
        assert alert.blocking and held is not None and (held.frozen, held.frozen_by) == (True, SCREENING)
        case = services.monitoring.open_case("usr_ann", [alert.id])
        services.monitoring.move("usr_ann", case.id, CaseStatus.CLOSED_NO_ACTION, note="a namesake")
        with services.uow() as uow:
            released = uow.kyc.get("usr_jose")
        assert released is not None and not released.frozen
        details = attrs.evolve(person, legal_name="Pepe Nunez", id_number="34567890", phone="254712000002")
        applied = services.kyc_review.apply_personal("usr_pepe", 1, details, notify_to=None)
        services.kyc_review.submit("usr_pepe", applied.id)  # matched at submission: held now (KycReview.on_listed)
        with services.uow() as uow:
            pepe = uow.kyc.get("usr_pepe")
        assert pepe is not None and pepe.frozen_by == SCREENING
    finally:
        services.close()
