"""Two edges of "all and only their data": a staff member's export keeps what they did to other people's records
but not whose (``AUDIT_DISCLOSURE``: target or only actor), and a merchant owner's export holds the merchant's KYB,
with its withholdings, and of its directors only the owner's own entry."""

from __future__ import annotations

import json
from typing import Any

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.identity.model import Merchant, Role, User
from cryptopay.core.ledger import Ledger
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.notifications import InMemoryNotifier

from tests.support.kyc_rig import START, KycRig, approve_after_reading, business, director
from tests.support.privacy_stack import privacy_storage

OFFICER = "usr_ann"


def _exports(rig: KycRig, *users: str) -> SubjectExports:
    with rig.storage.unit_of_work() as uow:
        for user_id in users:
            role = Role.COMPLIANCE if user_id == OFFICER else Role.PERSONAL
            if uow.users.get(user_id) is None:
                uow.users.add(User(user_id, f"{user_id}@example.co.ke", "unused-hash", role, START))
    ledger = Ledger(InMemoryLedgerStore(), clock=rig.clock)
    return SubjectExports(rig.storage.unit_of_work, ledger, rig.clock, InMemoryNotifier())


def test_a_staff_members_export_keeps_their_actions_on_others_without_whom() -> None:
    rig = KycRig(privacy_storage())
    application = rig.personal("usr_wanjiku", level=1)
    exports = _exports(rig, OFFICER, "usr_wanjiku")
    rig.review.application(OFFICER, application)  # kyc.application_viewed on kyc:usr_wanjiku
    exports.find("usr_wanjiku@example.co.ke", actor=f"user:{OFFICER}")  # privacy.subject_looked_up
    with rig.storage.unit_of_work() as uow:
        details = (("phone", "254712345678"),)
        uow.audit.append(AuditEvent(f"user:{OFFICER}", "wallet.looked_up", "wallet:usr_wanjiku", START, details))
        retried = AuditEvent(f"user:{OFFICER}", "payout.retried", "payout:po_9", START, (("to", "254799000001"),))
        uow.audit.append(retried)  # another merchant's payout: staff act on other people's things
        uow.audit.append(AuditEvent(f"user:{OFFICER}", "auth.login", f"user:{OFFICER}", START, (("ip", "10.0.0.1"),)))
    exported = exports.export(OFFICER, actor=f"user:{OFFICER}")
    by_action = {r["action"]: r for r in exported["audit"]}
    for action in ("kyc.application_viewed", "privacy.subject_looked_up", "wallet.looked_up", "payout.retried"):
        record = by_action[action]
        assert record["actor"] == f"user:{OFFICER}" and record["at"], action
        assert not {"subject", "details", "hash", "prev_hash"} & set(record), record
    # her own records (she is their target) stay whole
    assert by_action["auth.login"]["subject"] == f"user:{OFFICER}"
    assert by_action["auth.login"]["details"] == [["ip", "10.0.0.1"]]
    text = json.dumps(exported)
    assert "usr_wanjiku" not in text and "254712345678" not in text and application not in text
    assert "po_9" not in text and "254799000001" not in text
    # the person looked at sees that an officer looked (they are the target), never which one
    theirs = exports.export("usr_wanjiku", actor="user:usr_wanjiku")
    viewed = [r for r in theirs["audit"] if r["action"] == "kyc.application_viewed"]
    assert [(r["actor"], r["subject"]) for r in viewed] == [("compliance officer", "kyc:usr_wanjiku")]  # not whom


def _owned_kyb(rig: KycRig, owner: str) -> str:
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254711000001")
    with rig.storage.unit_of_work() as uow:
        uow.merchants.add(Merchant("mer_duka", owner, "Duka Ltd", profile, START, START))
    mine = attrs.evolve(director("Wanjiku Kamau", id_number="23456789"), party_id=owner)
    other = director("Otieno Odhiambo", id_number="31415926")
    kyb = rig.kyb("mer_duka", owner, business("PVT-AB12CD3", mine, other))
    rig.decide(OFFICER, kyb)
    rig.review.claim("usr_bob", kyb)  # a KYB is four-eyes
    approve_after_reading(rig.review, "usr_bob", kyb)
    with rig.storage.unit_of_work() as uow:  # what screening found stays compliance's own
        found = uow.kyc_applications.get(kyb)
        assert found is not None
        uow.kyc_applications.update(attrs.evolve(found, sanctions_matches=("ofac-sdn 1: Duka Ltd (0.97)",)))
    return kyb


def test_a_merchant_owners_export_holds_the_kyb_without_the_other_directors() -> None:
    rig = KycRig(privacy_storage())
    kyb = _owned_kyb(rig, "usr_wanjiku")
    exports = _exports(rig, "usr_wanjiku")
    exported: dict[str, Any] = exports.export("usr_wanjiku", actor="user:usr_wanjiku")
    [application] = [a for a in exported["kyc"]["applications"] if a["id"] == kyb]
    assert application["party_id"] == "mer_duka" and application["state"] == "approved"
    details = application["business"]
    assert (details["registered_name"], details["registration_number"]) == ("Duka Ltd", "PVT-AB12CD3")
    [me] = details["directors"]
    assert (me["name"], me["id_number"], me["party_id"]) == ("Wanjiku Kamau", "23456789", "usr_wanjiku")
    kinds = sorted((d["kind"], d["director"]) for d in application["documents"])
    mine = [("id_back", me["id"]), ("id_front", me["id"]), ("selfie", me["id"])]
    assert kinds == [("certificate_of_incorporation", None), *mine]
    assert application["verified_directors"] == [me["id"]]
    assert "sanctions_matches" not in application
    text = json.dumps(exported)
    assert "Otieno" not in text and "31415926" not in text and "ofac" not in text.lower()
    # the KYB's own audit records are hers too (she owns the business): shown whole
    actions = {(r["action"], r.get("subject")) for r in exported["audit"]}
    assert ("kyc.application_approved", "kyc:mer_duka") in actions


def test_another_persons_export_holds_no_kyb_of_a_merchant_they_do_not_own() -> None:
    rig = KycRig(privacy_storage())
    _owned_kyb(rig, "usr_wanjiku")
    exported = _exports(rig, "usr_otieno").export("usr_otieno", actor="user:usr_otieno")
    assert exported["kyc"]["applications"] == [] and "mer_duka" not in json.dumps(exported)


def test_an_export_names_staff_by_role_never_by_id_and_the_audit_log_keeps_the_ids() -> None:
    """Which officer claimed, approved, froze or looked at the person, and which operator ran a command, is staff's:
    the export says "compliance officer", "administrator" or "operator" wherever a staff id was (the records' fields,
    the audit records' actors and details); the audit log itself still names them."""
    from cryptopay.core.kyc.tiers import PartyKind

    rig = KycRig(privacy_storage())
    application = rig.personal("usr_wanjiku", level=1)
    exports = _exports(rig, OFFICER, "usr_wanjiku")
    with rig.storage.unit_of_work() as uow:
        uow.users.add(User("usr_boss", "boss@example.co.ke", "unused-hash", Role.ADMIN, START))
    rig.review.claim(OFFICER, application)
    rig.review.application(OFFICER, application)
    rig.review.approve(OFFICER, application, operator="ops:kamau")
    rig.review.freeze(OFFICER, "usr_wanjiku", PartyKind.PERSONAL, "a court order")
    with rig.storage.unit_of_work() as uow:
        uow.audit.append(AuditEvent("ops:kamau", "wallet.looked_up", "wallet:usr_wanjiku", START, ()))
        uow.audit.append(AuditEvent("user:usr_boss", "user.role_changed", "user:usr_wanjiku", START, ()))
    exported = exports.export("usr_wanjiku", actor="user:usr_wanjiku")
    text = json.dumps(exported)
    assert OFFICER not in text and "kamau" not in text and "usr_boss" not in text
    [shown] = exported["kyc"]["applications"]
    assert shown["approvals"] == ["compliance officer"]
    assert [(s["action"], s["actor"]) for s in shown["history"] if s["action"] in ("claimed", "approved")] == [
        ("claimed", "compliance officer"),
        ("approved", "compliance officer"),
    ]
    assert "frozen_by" not in exported["kyc"]["profile"]  # a compliance freeze is not told (review7 F8)
    actors = {r["action"]: r["actor"] for r in exported["audit"]}
    assert actors["kyc.application_viewed"] == "compliance officer" and "kyc.frozen" not in actors
    assert (actors["wallet.looked_up"], actors["user.role_changed"]) == ("operator", "administrator")
    assert actors["kyc.application_submitted"] == "user:usr_wanjiku"  # the person's own id stays
    approved = next(r for r in exported["audit"] if r["action"] == "kyc.application_approved")
    assert dict(approved["details"])["operator"] == "operator"
    with rig.storage.unit_of_work() as uow:  # the audit log keeps who did what
        kept = {r.action: r.actor for r in uow.audit.records()}
    assert kept["kyc.application_viewed"] == f"user:{OFFICER}" and kept["wallet.looked_up"] == "ops:kamau"
