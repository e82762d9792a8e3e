"""KYC profile and fee schedule repositories: the same behaviour from the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptopay.adapters.sql.repositories.kyc_fees import sql_kyc_fee_repositories
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.fees import FeeProduct, FeeSchedule, FeeTier, TierBasis
from cryptopay.core.kyc import KycPolicy, KycProfile, KycStatus, KycTier, PartyKind, Requirement
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.fees import InMemoryFeeSchedules
from cryptopay.core.testing.kyc import InMemoryKycProfiles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.sql_engines import SQL_BACKENDS, backend_engine, race

NOW = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)
CONTACT = {Requirement.PHONE, Requirement.EMAIL}
DOCUMENTS = CONTACT | {Requirement.NATIONAL_ID, Requirement.ID_DOCUMENT, Requirement.SELFIE}
JAN, JUN = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def repos(engine):
    if engine is None:
        return {"kyc": InMemoryKycProfiles(), "fee_schedules": InMemoryFeeSchedules()}
    return sql_kyc_fee_repositories(engine)


def pending(party_id: str, level: int = 2) -> KycProfile:
    profile = KycProfile(party_id=party_id, kind=PartyKind.PERSONAL)
    profile.submit(level, DOCUMENTS, at=NOW)
    return profile


def schedule(version: int, *, name: str = "standard", asset=KES, at=JAN, percent: str = "1.5") -> FeeSchedule:
    return FeeSchedule(
        product=FeeProduct.MPESA_PAYOUT,
        asset=asset,
        version=version,
        effective_from=at,
        name=name,
        percent=Decimal(percent),
        fixed=Money.of("10", asset),
    )


def test_a_profile_round_trips_with_evidence_approvals_status_and_expiry(repos):
    """An approved tier-2 profile comes back equal: evidence set, both approvals in order, status, level and expiry."""
    profile = pending("usr_1")
    profile.approve("adm_1", at=NOW)
    profile.approve("adm_2", at=NOW + timedelta(minutes=5))
    repos["kyc"].add(profile)
    stored = repos["kyc"].get("usr_1")
    assert stored == profile
    assert stored.evidence == frozenset(DOCUMENTS) and stored.approvals == ("adm_1", "adm_2")
    assert stored.status is KycStatus.APPROVED and stored.level == 2
    assert stored.expires_at == NOW + timedelta(minutes=5, days=365)
    assert repos["kyc"].get("usr_9") is None


def test_a_second_profile_for_a_party_is_a_conflict_and_an_unknown_update_not_found(repos):
    """Adding a profile for a party that has one is a Conflict (the first stays); updating a missing one is NotFound."""
    repos["kyc"].add(pending("usr_1"))
    with pytest.raises(Conflict):
        repos["kyc"].add(KycProfile(party_id="usr_1", kind=PartyKind.MERCHANT))
    assert repos["kyc"].get("usr_1").kind is PartyKind.PERSONAL
    with pytest.raises(NotFound):
        repos["kyc"].update(pending("usr_2"))


def test_a_profile_changes_only_once_updated(repos):
    """A fetched profile is a copy: an approval counts once update-d, and a rejection's reason is kept."""
    repos["kyc"].add(pending("usr_1"))
    copy = repos["kyc"].get("usr_1")
    copy.approve("adm_1", at=NOW)
    assert repos["kyc"].get("usr_1").approvals == ()
    repos["kyc"].update(copy)
    assert repos["kyc"].get("usr_1").approvals == ("adm_1",)
    copy.reject("adm_2", "the selfie does not match the ID photo", at=NOW)
    repos["kyc"].update(copy)
    stored = repos["kyc"].get("usr_1")
    assert (stored.status, stored.reason, stored.approvals) == (copy.status, copy.reason, ())


def test_pending_profiles_are_paged_by_party_id(repos):
    """Only profiles awaiting a decision are listed, by party id, page after page strictly after the cursor."""
    for n in (5, 1, 4, 2):
        repos["kyc"].add(pending(f"usr_{n}"))
    granted = KycProfile(party_id="usr_3", kind=PartyKind.PERSONAL)
    granted.submit(0, CONTACT, at=NOW)
    repos["kyc"].add(granted)
    repos["kyc"].add(KycProfile(party_id="usr_0", kind=PartyKind.MERCHANT))
    first = repos["kyc"].pending(limit=3)
    assert [p.party_id for p in first] == ["usr_1", "usr_2", "usr_4"]
    assert [p.party_id for p in repos["kyc"].pending(after="usr_4", limit=3)] == ["usr_5"]
    assert repos["kyc"].pending(after="usr_5") == []
    assert all(p.requested_level == 2 and p.evidence == frozenset(DOCUMENTS) for p in first)


def test_a_fee_schedule_round_trips_exactly_with_tiers_and_caps(repos):
    """A schedule with amount tiers, fixed fee and caps comes back equal and quotes the same exact fee."""
    banded = FeeSchedule(
        product=FeeProduct.CRYPTO_WITHDRAWAL,
        asset=USDT,
        version=3,
        effective_from=NOW,
        name="vip",
        percent=Decimal("0.125"),
        fixed=Money.of("0.000001", USDT),
        minimum=Money.of("1", USDT),
        maximum=Money.of("25.5", USDT),
        tier_basis=TierBasis.AMOUNT,
        tiers=(
            FeeTier(Money.of("1000", USDT), Decimal("0.1"), Money.of("0.5", USDT)),
            FeeTier(Money.of("10000.123456", USDT), Decimal("0.0333333333333333333333"), Money.zero(USDT)),
        ),
    )
    repos["fee_schedules"].add(banded)
    [stored] = repos["fee_schedules"].versions(FeeProduct.CRYPTO_WITHDRAWAL, USDT, "vip")
    assert stored == banded
    assert stored.tiers[1].percent == Decimal("0.0333333333333333333333")
    amount = Money.of("12345.678901", USDT)
    assert stored.quote(amount) == banded.quote(amount)


def test_storing_a_version_twice_is_a_conflict(repos):
    """The same product, asset, name and version again is a Conflict; another name or version is a new schedule."""
    fees = repos["fee_schedules"]
    fees.add(schedule(1))
    with pytest.raises(Conflict):
        fees.add(schedule(1, percent="2"))
    fees.add(schedule(1, name="promo"))
    fees.add(schedule(1, asset=USDT))
    assert fees.versions(FeeProduct.MPESA_PAYOUT, KES)[0].percent == Decimal("1.5")


def test_versions_come_oldest_first_for_one_schedule_only(repos):
    """``versions`` lists one product/asset/name's versions by version ascending, nothing of other schedules."""
    fees = repos["fee_schedules"]
    for version in (3, 1, 10, 2):
        fees.add(schedule(version, at=JAN + timedelta(days=version)))
    fees.add(schedule(4, name="promo"))
    fees.add(schedule(5, asset=USDT))
    assert [s.version for s in fees.versions(FeeProduct.MPESA_PAYOUT, KES)] == [1, 2, 3, 10]
    assert fees.versions(FeeProduct.MERCHANT, KES) == []


def test_the_book_of_stored_versions_picks_the_version_in_force(repos):
    """The book built from stored versions charges the January rate in March and the June rate in July."""
    fees = repos["fee_schedules"]
    fees.add(schedule(2, at=JUN, percent="2"))
    fees.add(schedule(1, at=JAN, percent="1"))
    book = fees.book()
    amount = Money.of("1000", KES)
    march, july = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    assert book.schedule_for(FeeProduct.MPESA_PAYOUT, KES, at=march).version == 1
    assert book.quote(FeeProduct.MPESA_PAYOUT, amount, at=march).fee == Money.of("20", KES)
    assert book.quote(FeeProduct.MPESA_PAYOUT, amount, at=july).fee == Money.of("30", KES)
    with pytest.raises(NotFound):
        book.schedule_for(FeeProduct.MPESA_PAYOUT, KES, at=JAN - timedelta(seconds=1))


@pytest.fixture(params=SQL_BACKENDS)
def sql_engine(request, tmp_path):
    yield from backend_engine(request, tmp_path)


def test_the_unit_of_work_offers_both_repositories_in_its_transaction(sql_engine):
    """``uow.kyc`` and ``uow.fee_schedules`` write in the unit of work's transaction: a failed block keeps nothing."""
    storage = SqlStorage(sql_engine)
    with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
        uow.kyc.add(pending("usr_1"))
        uow.fee_schedules.add(schedule(1))
        raise RuntimeError("abort")
    with storage.unit_of_work() as uow:
        assert uow.kyc.get("usr_1") is None and uow.fee_schedules.book().schedules == ()
        uow.kyc.add(pending("usr_1"))
    assert sql_kyc_fee_repositories(sql_engine)["kyc"].get("usr_1") == pending("usr_1")


BOARD = KycPolicy(
    [
        KycTier(
            kind=PartyKind.PERSONAL,
            level=1,
            name="board review",
            requirements=CONTACT,
            single_limit="1",
            daily_limit="1",
            monthly_limit="1",
            approvals_required=8,
            validity=timedelta(days=30),
        )
    ]
)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_concurrent_approvals_lock_the_profile_and_each_is_recorded_once(engine):
    """Eight admins approving one profile at once through get-for-update + update: all eight kept, then granted."""
    storage = SqlStorage(engine)
    profile = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
    profile.submit(1, CONTACT, at=NOW, policy=BOARD)
    sql_kyc_fee_repositories(engine)["kyc"].add(profile)

    def approve(i: int) -> list[str]:
        with storage.unit_of_work() as uow:
            mine = uow.kyc.get("usr_1")
            events = mine.approve(f"adm_{i}", at=NOW + timedelta(seconds=i), policy=BOARD)
            uow.kyc.update(mine)
        return [e.name for e in events]

    names = race(8, approve)
    stored = sql_kyc_fee_repositories(engine)["kyc"].get("usr_1")
    assert sorted(stored.approvals) == [f"adm_{i}" for i in range(8)]
    assert stored.status is KycStatus.APPROVED and stored.level == 1 and stored.requested_level is None
    assert sorted(n for events in names for n in events) == ["kyc.approval_recorded"] * 7 + ["kyc.approved"]


_AMOUNTS = st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(percent=st.decimals(min_value=0, max_value=100, places=12), fixed=_AMOUNTS, cap=_AMOUNTS, amount=_AMOUNTS)
def test_any_schedule_round_trips_digit_for_digit(sql_engine, percent, fixed, cap, amount):
    """Whatever its percent and amounts, a stored schedule comes back equal and quotes the same fee, never via a float."""
    fees = sql_kyc_fee_repositories(sql_engine)["fee_schedules"]
    version = len(fees.versions(FeeProduct.MERCHANT, USDT)) + 1
    stored = FeeSchedule(
        product=FeeProduct.MERCHANT,
        asset=USDT,
        version=version,
        effective_from=JAN,
        percent=percent,
        fixed=Money.of(fixed, USDT),
        maximum=Money.of(cap, USDT),
    )
    fees.add(stored)
    assert fees.versions(FeeProduct.MERCHANT, USDT)[-1] == stored
    assert fees.book().quote(FeeProduct.MERCHANT, Money.of(amount, USDT), at=NOW) == stored.quote(
        Money.of(amount, USDT)
    )


def test_find_reads_a_page_of_profiles_and_skips_the_missing(repos):
    """``find`` returns the profiles that exist, by party id (the settlement's one read per page)."""
    profiles = repos["kyc"]
    profiles.add(pending("usr_1"))
    profiles.add(pending("usr_2"))
    found = profiles.find(["usr_2", "usr_9", "usr_1"])
    assert sorted(found) == ["usr_1", "usr_2"] and found["usr_2"] == pending("usr_2")
    assert profiles.find([]) == {}
