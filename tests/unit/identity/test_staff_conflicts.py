"""Outside review 4, R12 in memory: a team member is not made staff, its keys go when its role leaves merchant, and
an officer never reads, claims or decides their own merchant's application."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.identity.admin import OnMerchantTeam, UserAdmin
from cryptopay.core.identity.model import ApiKey, Role, TeamRole, User
from cryptopay.core.identity.teams import parties_of
from cryptopay.core.kyc.review import OwnParty
from cryptopay.core.testing.identity import InMemoryApiKeys, InMemoryTeams, team_fixture
from cryptopay.core.testing.system import SequentialIds

from tests.support.kyc_rig import KycRig


def _member(duka, email: str = "amina@duka.co.ke", role: TeamRole = TeamRole.ADMIN) -> User:
    _, token = duka.teams.invite("mer_1", actor=duka.owner.id, email=email, role=role)
    user = User("usr_amina", email, duka.hasher.hash("a long passphrase"), Role.MERCHANT, duka.clock.now())
    duka.users.add(user)
    duka.teams.accept(token, user_id=user.id)
    return user


def _admin(duka) -> UserAdmin:
    return UserAdmin(duka.users, duka.hasher, duka.audit, duka.clock, SequentialIds(), teams=lambda: duka.teams)


def test_a_team_member_is_not_made_staff_and_nothing_changes():
    duka = team_fixture()
    member = _member(duka)
    before = len(duka.audit.records())
    for email in (member.email, duka.owner.email):
        for role in (Role.COMPLIANCE, Role.ADMIN):
            with pytest.raises(OnMerchantTeam) as refused:
                _admin(duka).set_role(email, role, actor="ops:amina")
            assert refused.value.http_status == 409 and refused.value.exit_code == 4
    assert duka.users.get(member.id).role is Role.MERCHANT and len(duka.audit.records()) == before
    assert duka.teams.merchant_of(member.id) == "mer_1" and duka.teams.merchant_of("usr_nobody") is None


def test_a_member_whose_role_leaves_merchant_loses_the_keys_it_created():
    duka = team_fixture()
    member = _member(duka)
    keys: InMemoryApiKeys = duka.teams._api_keys  # the fixture's key store
    now = duka.clock.now()
    for n, creator in enumerate((member.id, duka.owner.id)):
        keys.add(ApiKey(f"key_{n}", "mer_1", "shop", frozenset({"invoices:read"}), f"hash{n}", now, creator))
    _admin(duka).set_role(member.email, Role.PERSONAL, actor="ops:amina")
    assert keys.get("key_0").revoked_at is not None and keys.get("key_1").revoked_at is None
    (revoked,) = [r for r in duka.audit.records() if r.action == "api_key.revoked"]
    assert revoked.actor == "ops:amina" and dict(revoked.details)["reason"] == "role_changed"


def test_an_officer_never_reads_claims_or_decides_their_own_merchants_application():
    duka = team_fixture()
    rig = KycRig()
    teams_repo = duka.teams._teams
    assert isinstance(teams_repo, InMemoryTeams)
    rig.review = attrs.evolve(rig.review, parties_of=lambda user: parties_of(duka.merchants, teams_repo, user))
    application_id = rig.kyb(merchant="mer_1", owner=duka.owner.id)
    for act in (
        lambda: rig.review.application(duka.owner.id, application_id),
        lambda: rig.review.claim(duka.owner.id, application_id),
        lambda: rig.review.reject(duka.owner.id, application_id, "no"),
    ):
        with pytest.raises(OwnParty):
            act()
    with rig.storage.unit_of_work() as uow:
        refused = [r for r in uow.audit.records() if r.action == "kyc.own_party_refused"]
        assert uow.kyc_applications.get(application_id).state.value == "submitted"
    assert [dict(r.details)["action"] for r in refused] == [
        "kyc.application_viewed",
        "kyc.application_claimed",
        "kyc.application_rejected",
    ]
    assert all(r.subject == "kyc:mer_1" and r.actor == f"user:{duka.owner.id}" for r in refused)
    claimed = rig.review.claim("usr_other_officer", application_id)  # another officer acts as before
    assert claimed.state.value == "in_review"
