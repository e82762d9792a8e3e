"""A data subject's export withholds compliance's own work about them (tipping-off, POCAMLA s.8; the Data Protection
Act, 2019, s.51): what sanctions screening found, why an officer froze them, which list entry a withdrawal's address
matched, alerts and cases; and every export says so in the same words, whether or not anything was withheld."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
from cryptopay.adapters.sanctions import RapidfuzzMatcher, parse_list
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.screening import Screening
from cryptopay.core.identity.model import RefreshToken, Role, User
from cryptopay.core.kyc.applications import KycApplication
from cryptopay.core.kyc.profile import KycProfile
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay.core.ledger import Ledger
from cryptopay.core.payouts.model import Payout
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.privacy.export import (
    DISCLOSURE,
    OTHER_PARTIES,
    RESTRICTIONS,
    SECRET_FIELDS,
    Disclosure,
)
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.wallets.buys import Buy
from cryptopay.core.wallets.deposit import Deposit
from cryptopay.core.wallets.history import HistoryLine
from cryptopay.core.wallets.model import Transfer, Wallet
from cryptopay.core.wallets.withdrawal_model import Withdrawal

from tests.support.kyc_rig import START, KycRig, person
from tests.support.privacy_stack import privacy_storage

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sanctions"
OFFICER = "usr_ann"


def _screening() -> Screening:
    storage = InMemoryStorage(**monitoring_repositories())
    service = Screening(uow=storage.unit_of_work, matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=SequentialIds())
    for name in ("sdn.xml", "un_consolidated.xml"):
        parsed = parse_list((FIXTURES / name).read_bytes())
        service.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    return service


def _export(rig: KycRig, user_id: str) -> dict[str, Any]:
    with rig.storage.unit_of_work() as uow:
        if uow.users.get(user_id) is None:
            uow.users.add(User(user_id, f"{user_id}@example.co.ke", "unused-hash", Role.PERSONAL, START))
    ledger = Ledger(InMemoryLedgerStore(), clock=rig.clock)
    exports = SubjectExports(rig.storage.unit_of_work, ledger, rig.clock, InMemoryNotifier())
    return exports.export(user_id, actor=f"user:{user_id}")


def _listed_and_frozen() -> tuple[KycRig, str]:
    """Jose: his name is on the OFAC list (screened at submission), an officer froze him with a reason, his wallet
    was frozen with a reason, a withdrawal of his was blocked on a listed address, and an alert names him."""
    rig = KycRig(privacy_storage(), screening=_screening())
    details = attrs.evolve(person(), legal_name="Jose Ramon Nunez Garcia")
    application = rig.review.apply_personal("usr_jose", 1, details, notify_to=None)
    rig.review.submit("usr_jose", application.id)
    rig.review.freeze(OFFICER, "usr_jose", PartyKind.PERSONAL, "suspected structuring, STR 17 filed")
    at = rig.clock.now()
    with rig.storage.unit_of_work() as uow:
        wallet = Wallet(
            user_id="usr_jose", phone="254712000009", created_at=at, frozen_at=at, frozen_reason="goAML 4411"
        )
        uow.wallets.add(wallet)
        blocked = AuditEvent("user:usr_jose", "wallet.withdrawal_blocked", "withdrawal:wdr_1", at, {"lists": "ofac:1"})
        alert = AuditEvent("system:monitoring", "compliance.alert_raised", "user:usr_jose", at, {"rule": "r7"})
        uow.audit.append(blocked)
        uow.audit.append(alert)
    return rig, application.id


def test_screening_hits_and_the_officers_reasons_are_not_in_the_subjects_export() -> None:
    rig, application_id = _listed_and_frozen()
    with rig.storage.unit_of_work() as uow:
        stored = uow.kyc_applications.get(application_id)
        assert stored is not None and stored.sanctions_matches  # screening found him: the officers see it
    exported = _export(rig, "usr_jose")
    text = json.dumps(exported)
    for compliance_internal in ("ofac", "NÚÑEZ", "structuring", "STR 17", "goAML", "r7", "sanctions_match"):
        assert compliance_internal not in text, compliance_internal
    [application] = exported["kyc"]["applications"]
    assert application["id"] == application_id and application["person"]["legal_name"] == "Jose Ramon Nunez Garcia"
    assert "sanctions_matches" not in application and "id_link_reason" not in application
    profile = exported["kyc"]["profile"]
    # a compliance freeze is not told to him (review7 F8); an operator's wallet freeze is, without its reason
    assert not {"frozen_at", "frozen_by", "freeze_reason"} & set(profile)
    assert exported["wallet"]["frozen_at"] is not None and "frozen_reason" not in exported["wallet"]
    shown = {r["action"]: r["details"] for r in exported["audit"]}
    assert "kyc.sanctions_match" not in shown and not [a for a in shown if a.startswith("compliance.")]
    assert "kyc.frozen" not in shown and "lists" not in dict(shown["wallet.withdrawal_blocked"])
    assert "kyc.application_submitted" in shown


def test_every_export_carries_the_same_restrictions_notice_whether_or_not_anything_was_withheld() -> None:
    """A notice only when something was withheld would itself tell the person they were screened or frozen."""
    listed, _ = _listed_and_frozen()
    clean = KycRig(privacy_storage(), screening=_screening())
    clean.personal("usr_wanjiku", level=1)
    clean.clock.advance(minutes=1)
    theirs, mine = _export(listed, "usr_jose"), _export(clean, "usr_wanjiku")
    assert theirs["restrictions"] == mine["restrictions"] == RESTRICTIONS
    assert "s.51" in RESTRICTIONS and set(theirs) == set(mine)
    assert set(theirs["kyc"]["applications"][0]) == set(mine["kyc"]["applications"][0])


def test_every_field_of_every_exported_record_is_classified() -> None:
    """A field added to a record the export holds must be classified in ``DISCLOSURE`` (until then it stays out)."""
    records = {
        KycApplication,
        KycProfile,
        Wallet,
        HistoryLine,
        Transfer,
        Buy,
        Deposit,
        Withdrawal,
        Payout,
        RefreshToken,
    }
    assert set(DISCLOSURE) == records
    for record, classes in DISCLOSURE.items():
        assert set(classes) == {f.name for f in attrs.fields(record)}, record.__name__
        for name, kind in classes.items():
            assert (kind is Disclosure.SECRET) == (name in SECRET_FIELDS), (record.__name__, name)
            assert kind is not Disclosure.OTHER_PARTY or name in OTHER_PARTIES, (record.__name__, name)
    withheld = {name for classes in DISCLOSURE.values() for name, k in classes.items() if k is Disclosure.WITHHELD}
    assert withheld == {
        "sanctions_matches",
        "id_link_reason",
        "freeze_reason",
        "frozen_at",  # the KYC profile's (a compliance freeze); a wallet's (an operator's) is shown
        "frozen_by",
        "frozen_reason",
        "hold_detail",
        "alerts",  # the compliance alerts a held deposit's release concludes (review8 R7)
        "failure",
        "travel_rule_id",
        "held_at",
        "proposal",  # an officer's proposed decision on a held send or a held deposit
        "decided_at",  # when officers released or returned it (its parties read an ordinary send's times)
        "kept",  # an officer's note keeping it held
        "conclusion",  # staff's proposed conclusion of an unknown payout from M-Pesa's record (review10 R10-4)
        "screening_pending",  # an application's names screened against no list yet (R12-3): the officers' flag
        "correction",  # an admin's proposed correction of a concluded payout's receipt (who, why)
        "corrections",  # the corrections two admins approved (the receipt itself is exported)
    }


def test_a_screening_after_a_list_import_is_not_told_to_the_applicant() -> None:
    """lastread L3-2: an application submitted while no list was loaded is screened after the import
    (``screen_pending``), audited ``kyc.screened`` with the number of hits: compliance's own, withheld whole."""
    from cryptopay.adapters.sanctions import RapidfuzzMatcher, parse_list
    from cryptopay.core.compliance.screening import Screening
    from cryptopay.core.testing.compliance import monitoring_repositories
    from cryptopay.core.testing.storage import InMemoryStorage
    from cryptopay.core.testing.system import ManualClock, SequentialIds

    storage = InMemoryStorage(**monitoring_repositories())
    screening = Screening(
        uow=storage.unit_of_work, matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=SequentialIds(), required=True
    )
    rig = KycRig(privacy_storage(), screening=screening)
    details = attrs.evolve(person(), legal_name="Jose Ramon Nunez Garcia")
    application = rig.review.apply_personal("usr_jose", 1, details, notify_to=None)
    rig.review.submit("usr_jose", application.id)  # no list loaded: screening_pending
    parsed = parse_list((FIXTURES / "sdn.xml").read_bytes())
    screening.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    [screened] = rig.review.screen_pending()
    assert screened.sanctions_matches
    shown = {r["action"] for r in _export(rig, "usr_jose")["audit"]}
    assert not shown & {"kyc.screened", "kyc.screening_pending"} and "kyc.application_submitted" in shown
