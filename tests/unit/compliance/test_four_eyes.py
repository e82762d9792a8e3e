"""Four-eyes that proves two people (review10 R10-8): who made each account staff is kept, and one check, wired into
every approval, refuses officers one person appointed and officers appointed too recently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.bootstrap import Settings
from cryptopay.adapters.bootstrap.wiring import Parts
from cryptopay.core.compliance.four_eyes import (
    Appointment,
    FourEyes,
    OfficerCoolingOff,
    RelatedOfficers,
    SameOfficer,
)
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Role
from cryptopay.core.identity.admin import UserAdmin
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.identity import FastPasswordHasher, InMemoryUsers
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.wallets.deposit import DepositState, HoldReason

from tests.support.deposit_stack import deposit_stack
from tests.support.kyc_rig import KycRig, approve_after_reading

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "a long enough passphrase"


def _admin(users: InMemoryUsers, clock: ManualClock) -> UserAdmin:
    return UserAdmin(users, FastPasswordHasher(), InMemoryAuditLog(), clock, SequentialIds())


def test_an_account_made_staff_keeps_who_made_it_and_when():
    """``create-admin`` and a role change to a staff role record the operator and the time; a change to another
    role keeps the last appointment; an account registered otherwise has none."""
    users, clock = InMemoryUsers(), ManualClock(AT)
    admin = _admin(users, clock)
    ann = admin.create_admin("ann@cryptopay.example", PASSWORD, actor="ops:amina")
    assert ann.appointment == Appointment("ops:amina", AT)
    clock.advance(hours=2)
    assert admin.set_role("ann@cryptopay.example", Role.COMPLIANCE, actor="user:usr_chief").appointment == Appointment(
        "user:usr_chief", AT + timedelta(hours=2)
    )
    clock.advance(hours=2)
    demoted = admin.set_role("ann@cryptopay.example", Role.PERSONAL, actor="ops:juma")
    assert demoted.appointment == Appointment("user:usr_chief", AT + timedelta(hours=2))
    assert users.get(ann.id).appointment == demoted.appointment  # stored


def test_officers_related_through_their_appointments_are_refused_and_others_past_the_cool_off_are_not():
    """Same person, one made the other, or a chain (A made B, B made C: A and C); a new officer waits the cool-off;
    an account with no appointment on file is related to nobody; unwired, only the proposer is refused."""
    staff = {
        "a": Appointment("ops:amina", AT),
        "b": Appointment("user:a", AT),
        "c": Appointment("user:b", AT),
        "d": Appointment("ops:juma", AT),
        "e": Appointment("ops:amina", AT),
        "x": Appointment("user:y", AT),  # a cycle (demoted and promoted back) ends the walk
        "y": Appointment("user:x", AT),
    }
    eyes, later = FourEyes(appointments=staff.get, cool_off=timedelta(hours=24)), AT + timedelta(days=2)

    def refused(proposer: str, approver: str, now: datetime = later) -> str:
        found = eyes.refusal(proposer, approver, now=now, what="release")
        return found.code if found is not None else "ok"

    assert refused("a", "user:a") == SameOfficer.code
    assert [refused("a", "e"), refused("a", "b"), refused("b", "a"), refused("a", "c"), refused("c", "a")] == [
        RelatedOfficers.code
    ] * 5
    assert [refused("a", "d"), refused("c", "d"), refused("legacy", "d"), refused("d", "legacy")] == ["ok"] * 4
    assert refused("x", "d") == "ok" and refused("x", "y") == RelatedOfficers.code
    assert refused("a", "d", now=AT + timedelta(hours=23, minutes=59)) == OfficerCoolingOff.code
    assert refused("d", "a", now=AT + timedelta(hours=24)) == "ok"
    assert FourEyes().refusal("a", "e", now=later, what="release") is None


def test_a_deposit_release_is_refused_to_an_officer_one_person_appointed_with_the_proposer():
    """The held deposit desk: the related approver and the new one are refused (audited
    ``wallet.deposit_<code>_refused``), nothing is credited; an unrelated officer past the cool-off releases it."""
    stack = deposit_stack()
    users = InMemoryUsers()
    admin = _admin(users, stack.clock)
    ann = admin.create_admin("ann@cryptopay.example", PASSWORD, actor="ops:amina")
    bob = admin.create_admin("bob@cryptopay.example", PASSWORD, actor="ops:amina")
    stack.deposits.four_eyes = FourEyes.over(users.get, timedelta(hours=24))
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "40")  # beyond tier 0: two officers' release (R10-15)
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert held.hold_reason is HoldReason.TIER_LIMIT
    stack.deposits.propose_release(held.id, officer=ann.id, note="known customer, ID on file")
    stack.clock.advance(hours=25)
    with pytest.raises(RelatedOfficers):
        stack.deposits.approve_release(held.id, officer=bob.id)
    cat = admin.create_admin("cat@cryptopay.example", PASSWORD, actor="ops:juma")
    with pytest.raises(OfficerCoolingOff):
        stack.deposits.approve_release(held.id, officer=cat.id)
    with stack.uow() as uow:
        refusals = [
            (r.actor, r.action) for r in uow.audit.records() if r.action.endswith("officer_cooling_off_refused")
        ]
        related = [r for r in uow.audit.records() if r.action == "wallet.deposit_related_officers_refused"]
    assert refusals == [(f"user:{cat.id}", "wallet.deposit_officer_cooling_off_refused")]
    assert dict(related[0].details)["proposed_by"] == ann.id and stack.balance(user, "USDT").is_zero()
    stack.clock.advance(hours=24)
    assert stack.deposits.approve_release(held.id, officer=cat.id).state is DepositState.CREDITED


def test_a_second_kyc_approval_by_an_officer_related_to_the_first_is_refused_and_audited():
    """Tier 2 takes two officers: the second, made staff by the one who made the first, is refused at its claim (409,
    audited ``kyc.approval_related_officers_refused``): the application stays in the queue, the tier not granted; an
    unrelated second officer claims it and grants it."""
    rig = KycRig()
    staff = {
        "usr_ann": Appointment("ops:amina", AT - timedelta(days=3)),
        "usr_bob": Appointment("ops:amina", AT - timedelta(days=3)),
        "usr_cat": Appointment("ops:juma", AT - timedelta(days=3)),
    }
    rig.review.four_eyes = FourEyes(appointments=staff.get)
    app_id = rig.personal()
    rig.decide("usr_ann", app_id)
    with pytest.raises(RelatedOfficers):
        rig.decide("usr_bob", app_id)
    assert rig.review.standing("usr_wanjiku").profile.level is None
    with rig.storage.unit_of_work() as uow:
        actions = [(r.actor, r.action) for r in uow.audit.records()]
    assert ("user:usr_bob", "kyc.approval_related_officers_refused") in actions
    rig.decide("usr_cat", app_id)
    assert rig.review.standing("usr_wanjiku").profile.level == 2


def test_a_kyc_approval_refused_after_the_claim_gives_the_claim_back_to_the_queue():
    """The second officer claimed the application, then was made staff again by the first's appointer: its approval
    is refused (409) and its claim released (audited ``kyc.application_released``), so another officer claims it
    and grants the tier instead of finding it held by someone who cannot decide it."""
    rig = KycRig()
    staff = {
        "usr_ann": Appointment("ops:amina", AT - timedelta(days=3)),
        "usr_bob": Appointment("ops:juma", AT - timedelta(days=3)),
        "usr_cat": Appointment("ops:juma", AT - timedelta(days=3)),
    }
    rig.review.four_eyes = FourEyes(appointments=staff.get, cool_off=timedelta(0))
    app_id = rig.personal()
    rig.decide("usr_ann", app_id)
    rig.review.claim("usr_bob", app_id)
    staff["usr_bob"] = Appointment("ops:amina", AT - timedelta(days=1))
    with pytest.raises(RelatedOfficers):
        approve_after_reading(rig.review, "usr_bob", app_id)
    with rig.storage.unit_of_work() as uow:
        application = uow.kyc_applications.get(app_id)
    assert application.claimed_by is None and application.state.value == "submitted"
    assert application.history[-1].action == "released" and application.approvals == ("usr_ann",)
    released = [r for r in rig.audit_records() if r.action == "kyc.application_released"]
    assert [(r.actor, dict(r.details)["reason"]) for r in released] == [("user:usr_bob", "related_officers")]
    rig.decide("usr_cat", app_id)
    assert rig.review.standing("usr_wanjiku").profile.level == 2


def test_the_deployment_wires_one_check_over_its_accounts_into_every_approval(tmp_path):
    """``Parts.four_eyes`` (over the SQL accounts, ``CRYPTOPAY_OFFICER_COOL_OFF_HOURS``) is the check of every use
    case that approves a proposal: held payments and sends, deposits, paybill, remittances, payout conclusions, KYC."""
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_OFFICER_COOL_OFF_HOURS": "48",
        "CRYPTOPAY_MPESA_CONSUMER_KEY": "k",
        "CRYPTOPAY_MPESA_CONSUMER_SECRET": "s",
        "CRYPTOPAY_MPESA_SHORTCODE": "174379",
    }
    parts = Parts(Settings.from_env(env), clock=SystemClock(), ids=RandomIds())
    try:
        eyes = parts.four_eyes
        desks = [
            parts.held_payments.four_eyes,
            parts.wallets.held_sends().four_eyes,
            parts.wallet_deposits.four_eyes,
            parts.paybill.four_eyes,
            parts.remittances.four_eyes,
            parts.payouts.four_eyes,
            parts.kyc_review.four_eyes,
        ]
        assert all(desk is eyes for desk in desks) and eyes.cool_off == timedelta(hours=48)
        admin = UserAdmin(parts.users, FastPasswordHasher(), parts.audit, SystemClock(), RandomIds())
        ann = admin.create_admin("ann@cryptopay.example", PASSWORD, actor="ops:amina")
        bob = admin.create_admin("bob@cryptopay.example", PASSWORD, actor="ops:amina")
        stored = parts.users.get(bob.id)
        assert stored is not None and stored.appointment == bob.appointment
        found = eyes.refusal(ann.id, bob.id, now=datetime.now(UTC) + timedelta(days=3), what="release")
        assert isinstance(found, RelatedOfficers)
    finally:
        for close in parts.closers:
            close()


@pytest.mark.parametrize("hours", ["-1", "721"])
def test_the_cool_off_setting_is_checked(tmp_path, hours):
    with pytest.raises(InvalidInput, match="CRYPTOPAY_OFFICER_COOL_OFF_HOURS"):
        Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_OFFICER_COOL_OFF_HOURS": hours})
