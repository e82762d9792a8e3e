"""KYC: the status machine, two-admin approval for the highest tier, expiry, and movement limits."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.errors import AssetMismatch, Conflict, InvalidInput, InvalidState, LimitExceeded, Refused
from cryptopay.core.kyc import (
    DEFAULT_KYC_POLICY,
    KycProfile,
    KycStatus,
    PartyKind,
    Product,
    Requirement,
    Spending,
    check_movement,
    check_wallet_movement,
    day_bounds,
    month_bounds,
    product_limited,
)
from cryptopay.core.money import KES, USDT, Money
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CONTACT = {Requirement.PHONE, Requirement.EMAIL}
ID = {Requirement.NATIONAL_ID}
DOCS = {Requirement.ID_DOCUMENT, Requirement.SELFIE}


def kes(value: object) -> Money:
    return Money.of(value, KES)


def verified_person(level: int) -> KycProfile:
    person = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
    person.submit(0, CONTACT, at=NOW)
    if level >= 1:
        person.submit(1, ID, at=NOW)
        person.approve("adm_1", at=NOW)
    if level >= 2:
        person.submit(2, DOCS, at=NOW)
        person.approve("adm_1", at=NOW)
        person.approve("adm_2", at=NOW)
    return person


def allowed(person: KycProfile, amount: str, today: str = "0", month: str = "0") -> bool:
    return check_movement(person, kes(amount), spent_today=kes(today), spent_this_month=kes(month), at=NOW).allowed


def test_contact_tier_is_granted_without_review():
    """Phone and email verified grant tier 0 at once; nothing else is needed."""
    person = verified_person(0)
    assert (person.status, person.level) == (KycStatus.APPROVED, 0)


def test_submission_lists_missing_evidence():
    """Applying for tier 2 without a selfie is refused, naming what is missing."""
    person = verified_person(1)
    with pytest.raises(InvalidInput, match="selfie"):
        person.submit(2, {Requirement.ID_DOCUMENT}, at=NOW)
    assert person.status is KycStatus.APPROVED


def test_pending_application_keeps_the_current_tier():
    """While tier 1 is under review, tier 0 limits still apply and a second application is refused."""
    person = verified_person(0)
    events = person.submit(1, ID, at=NOW)
    assert [e.name for e in events] == ["kyc.submitted"]
    assert person.status is KycStatus.PENDING and person.tier_at(NOW).level == 0
    with pytest.raises(InvalidState):
        person.submit(1, ID, at=NOW)


def test_highest_tier_needs_two_different_admins():
    """Tier 2 stays pending after one approval, refuses the same admin twice, and is granted by a second admin."""
    person = verified_person(1)
    person.submit(2, DOCS, at=NOW)
    assert [e.name for e in person.approve("adm_1", at=NOW)] == ["kyc.approval_recorded"]
    assert person.status is KycStatus.PENDING
    with pytest.raises(Conflict):
        person.approve("adm_1", at=NOW)
    assert [e.name for e in person.approve("adm_2", at=NOW)] == ["kyc.approved"]
    assert (person.status, person.level, person.approvals) == (KycStatus.APPROVED, 2, ("adm_1", "adm_2"))


def test_nobody_approves_their_own_application():
    """An admin cannot approve their own KYC."""
    person = verified_person(0)
    person.submit(1, ID, at=NOW)
    with pytest.raises(Refused):
        person.approve("usr_1", at=NOW)


def test_rejection_keeps_the_tier_held_and_allows_a_new_application():
    """A rejected application leaves the earlier tier in force; the party can apply again."""
    person = verified_person(0)
    person.submit(1, ID, at=NOW)
    person.reject("adm_1", "the ID number does not match the name", at=NOW)
    assert (person.status, person.level, person.reason) == (
        KycStatus.REJECTED,
        0,
        "the ID number does not match the name",
    )
    person.submit(1, ID, at=NOW)
    assert person.status is KycStatus.PENDING
    with pytest.raises(InvalidInput):
        person.reject("adm_1", "  ", at=NOW)


def test_approval_without_a_pending_application_is_refused():
    """Approving or rejecting with nothing under review is an invalid state."""
    person = verified_person(1)
    with pytest.raises(InvalidState):
        person.approve("adm_1", at=NOW)
    with pytest.raises(InvalidState):
        person.reject("adm_1", "no", at=NOW)


def test_expired_tier_falls_back_to_contact_tier():
    """After its validity, tier 1 counts as lapsed at once and ``expire`` records it."""
    person = verified_person(1)
    later = NOW + timedelta(days=731)
    assert person.tier_at(later).level == 0
    assert [e.name for e in person.expire(at=later)] == ["kyc.expired"]
    assert (person.status, person.level, person.expires_at) == (KycStatus.EXPIRED, 0, None)
    assert person.expire(at=later) == []


def test_unverified_party_may_not_move_money():
    """Without even tier 0, every movement is refused with a reason."""
    decision = check_movement(
        KycProfile(party_id="usr_9", kind=PartyKind.PERSONAL),
        kes(1),
        spent_today=kes(0),
        spent_this_month=kes(0),
        at=NOW,
    )
    assert not decision.allowed and "not verified" in decision.reason


@pytest.mark.parametrize(
    ("amount", "today", "month", "limit"),
    [("70001", "0", "0", "single"), ("50000", "100001", "0", "daily"), ("50000", "0", "950001", "monthly")],
)
def test_each_limit_refuses_with_its_name(amount, today, month, limit):
    """Tier 1 refuses over its single, daily and monthly limits, naming which one."""
    person = verified_person(1)
    decision = check_movement(person, kes(amount), spent_today=kes(today), spent_this_month=kes(month), at=NOW)
    assert (decision.allowed, decision.limit) == (False, limit)
    with pytest.raises(LimitExceeded, match=limit):
        decision.enforce()


def test_movement_exactly_at_the_limit_is_allowed():
    """A movement that brings the day to exactly the daily limit is allowed."""
    assert allowed(verified_person(1), "50000", today="100000")
    assert not allowed(verified_person(1), "50000.01", today="100000")


def test_limits_are_in_shillings():
    """A USDT amount must be converted to its KES value before checking."""
    with pytest.raises(AssetMismatch):
        check_movement(verified_person(1), Money.of(1, USDT), spent_today=kes(0), spent_this_month=kes(0), at=NOW)


def test_merchant_tier_needs_business_registration_and_kra_pin():
    """A merchant's tier 1 asks for the business registration and KRA PIN, and two admins."""
    shop = KycProfile(party_id="mer_1", kind=PartyKind.MERCHANT)
    with pytest.raises(InvalidInput, match="kra_pin"):
        shop.submit(1, CONTACT | {Requirement.BUSINESS_REGISTRATION}, at=NOW)
    shop.submit(1, CONTACT | {Requirement.BUSINESS_REGISTRATION, Requirement.KRA_PIN}, at=NOW)
    shop.approve("adm_1", at=NOW)
    shop.approve("adm_2", at=NOW)
    assert shop.tier_at(NOW).single_limit == kes("1000000")


def test_days_and_months_follow_nairobi_time():
    """21:30 UTC on the last day of March is already 1 April in Nairobi."""
    late = datetime(2026, 3, 31, 21, 30, tzinfo=UTC)
    assert day_bounds(late)[0].isoformat() == "2026-04-01T00:00:00+03:00"
    assert [d.isoformat() for d in month_bounds(late)] == ["2026-04-01T00:00:00+03:00", "2026-05-01T00:00:00+03:00"]
    assert month_bounds(datetime(2026, 12, 5, tzinfo=UTC))[1].isoformat() == "2027-01-01T00:00:00+03:00"


@settings(deadline=None)
@given(
    kind=st.sampled_from(list(PartyKind)),
    level=st.sampled_from([None, 0, 1, 2]),
    evidence=st.frozensets(st.sampled_from(list(Requirement))),
    expires_in=st.one_of(st.none(), st.integers(-400, 400)),
    frozen=st.booleans(),
    product=st.sampled_from(list(Product)),
    amount=st.integers(1, 3_000_000),
    spent=st.integers(0, 3_000_000),
)
def test_a_standing_decides_every_limit_as_its_profile_does(
    kind, level, evidence, expires_in, frozen, product, amount, spent
):
    """``KycStanding`` (what the limits read of a profile, ``KycProfile.standing``) holds the same tier at every
    moment and gets the same decision from every limit check as the whole profile, lapsed or frozen."""
    profile = KycProfile(party_id="usr_1", kind=kind, evidence=evidence)
    if level is not None and level < len(DEFAULT_KYC_POLICY.for_kind(kind)):
        profile.level, profile.status = level, KycStatus.APPROVED
        profile.expires_at = None if expires_in is None else NOW + timedelta(days=expires_in)
    if frozen:
        profile.freeze("usr_officer", "a court order", at=NOW)
    standing = profile.standing()
    assert (standing.party_id, standing.kind, standing.frozen) == (profile.party_id, profile.kind, profile.frozen)
    used = Spending(kes(spent), kes(spent), {product: kes(spent)}, {product: kes(spent)})
    for at in (NOW, NOW + timedelta(days=200), NOW + timedelta(days=500)):
        assert standing.tier_at(at) == profile.tier_at(at)
        assert check_wallet_movement(standing, product, kes(amount), spent=used, at=at) == check_wallet_movement(
            profile, product, kes(amount), spent=used, at=at
        )
        assert product_limited(standing, product, at=at) == product_limited(profile, product, at=at)
        assert check_movement(
            standing, kes(amount), spent_today=kes(spent), spent_this_month=kes(spent), at=at
        ) == check_movement(profile, kes(amount), spent_today=kes(spent), spent_this_month=kes(spent), at=at)
