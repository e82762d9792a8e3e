"""KYC applications and the document store: the same behaviour from the fakes, SQLite, PostgreSQL and a directory.

The review use cases run whole over each storage backend, so four-eyes and the tier change are checked on the real
databases too (the row lock of ``get`` serialises two officers deciding at once on PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.documents import FileDocumentStore
from cryptopay.adapters.sql.repositories.compliance import SqlKycApplications
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.kyc.applications import (
    ApplicationState,
    IdInUse,
    KycApplication,
    RegistrationInUse,
    id_key,
    registration_key,
)
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay.core.testing.kyc import InMemoryDocumentStore, InMemoryKycApplications

from tests.support.kyc_rig import START, KycRig, approve_after_reading, business, director, person
from tests.support.s3 import s3_store
from tests.support.sql_backends import TEST_PERSONAL


@pytest.fixture
def applications(engine):
    return InMemoryKycApplications() if engine is None else SqlKycApplications(engine, personal=TEST_PERSONAL)


@pytest.fixture
def rig(engine):
    if engine is None:
        return KycRig()
    from cryptopay.adapters.sql.uow import SqlStorage

    return KycRig(SqlStorage(engine, personal=TEST_PERSONAL))


@pytest.fixture(params=["memory", "directory", "s3"])
def store(request, tmp_path):
    if request.param == "s3":  # the S3 adapter over HTTP against the sandbox's S3 simulator (SigV4 checked)
        with s3_store() as (found, _state):
            yield found
        return
    yield InMemoryDocumentStore() if request.param == "memory" else FileDocumentStore(tmp_path / "documents")


def application(app_id: str, party: str = "usr_1", *, minutes: int = 0, merchant: bool = False) -> KycApplication:
    kind = PartyKind.MERCHANT if merchant else PartyKind.PERSONAL
    return KycApplication(
        id=app_id,
        party_id=party,
        kind=kind,
        level=1,
        created_at=START + timedelta(minutes=minutes),
        submitted_by=party,
        notify_to="a@example.co.ke",
        person=None if merchant else person(),
        business=business() if merchant else None,
    )


def _linked_audit(rig: KycRig, other: str) -> dict[str, str]:
    """Asserts the audit of an ID shared with ``other``: ``kyc.id_shared``, ``kyc.approval_refused`` and
    ``kyc.id_linked`` each name the account; returns ``kyc.id_linked``'s details."""
    with rig.storage.unit_of_work() as uow:
        records = {r.action: dict(r.details) for r in uow.audit.records()}
    assert records["kyc.id_shared"]["accounts"] == other
    assert records["kyc.approval_refused"]["accounts"] == other
    assert records["kyc.id_linked"]["accounts"] == other
    return records["kyc.id_linked"]


def test_an_application_round_trips_with_its_details(applications):
    """Details (dates, ID type, directors) come back equal."""
    for item in (application("kya_1"), application("kya_2", "mer_1", merchant=True)):
        applications.add(item)
        assert applications.get(item.id) == item


def test_adding_an_id_twice_is_a_conflict_and_updating_a_missing_one_is_not_found(applications):
    """Ids are unique; an update needs a stored application."""
    applications.add(application("kya_1"))
    with pytest.raises(Conflict):
        applications.add(application("kya_1"))
    with pytest.raises(NotFound):
        applications.update(application("kya_9"))
    assert applications.get("kya_9") is None


def test_updates_are_stored_and_copies_are_handed_out(applications):
    """A change counts only once updated."""
    item = application("kya_1")
    applications.add(item)
    item.state = ApplicationState.SUBMITTED
    assert applications.get("kya_1").state is ApplicationState.DRAFT
    applications.update(item)
    assert applications.get("kya_1").state is ApplicationState.SUBMITTED


def test_a_partys_applications_come_oldest_first(applications):
    """``for_party`` lists only that party's, by creation time."""
    applications.add(application("kya_b", minutes=5))
    applications.add(application("kya_a", minutes=9))
    applications.add(application("kya_c", "usr_2"))
    assert [a.id for a in applications.for_party("usr_1")] == ["kya_b", "kya_a"]


def test_the_queue_pages_by_id_within_the_states_asked(applications):
    """Keyset pages over the states asked for, strictly after the cursor."""
    for index, state in enumerate([ApplicationState.SUBMITTED, ApplicationState.DRAFT, ApplicationState.IN_REVIEW]):
        item = application(f"kya_{index}", f"usr_{index}")
        item.state = state
        applications.add(item)
    wanted = (ApplicationState.SUBMITTED, ApplicationState.IN_REVIEW)
    assert [a.id for a in applications.queue(wanted)] == ["kya_0", "kya_2"]
    assert [a.id for a in applications.queue(wanted, after="kya_0", limit=1)] == ["kya_2"]
    assert applications.queue(wanted, after="kya_2") == []


def test_the_review_runs_whole_on_each_backend(rig):
    """Four-eyes on a KYB, then a tier-2 person: the tier is in force after the second approval."""
    kyb = rig.kyb()
    rig.decide("usr_ann", kyb)
    rig.decide("usr_bob", kyb)
    personal = rig.personal()
    rig.decide("usr_ann", personal)
    with pytest.raises(Conflict):
        rig.decide("usr_ann", personal)
    rig.decide("usr_bob", personal)
    assert rig.review.standing("mer_duka").profile.level == 1
    assert rig.review.standing("usr_wanjiku").profile.level == 2
    assert rig.review.queue() == []


def test_a_failed_decision_changes_nothing(rig):
    """A refused approval (not claimed) leaves the profile, the application and the audit log as they were."""
    app_id = rig.personal(level=1)
    before = (rig.review.standing("usr_wanjiku"), rig.audit_actions())
    with pytest.raises(Exception):
        rig.review.approve("usr_ann", app_id)
    assert (rig.review.standing("usr_wanjiku"), rig.audit_actions()) == before


def test_a_blob_round_trips_and_is_replaced_whole(store):
    """``put`` then ``get``; a second ``put`` replaces; ``delete`` removes, and twice is harmless."""
    store.put("kyd_1", b"first")
    store.put("kyd_1", b"second")
    assert store.get("kyd_1") == b"second"
    store.delete("kyd_1")
    store.delete("kyd_1")
    with pytest.raises(NotFound):
        store.get("kyd_1")


def test_a_missing_key_is_not_found_and_each_key_is_its_own(store):
    """``get`` of a key never stored is ``NotFound``; blobs under two keys stay apart (binary content intact)."""
    with pytest.raises(NotFound):
        store.get("kyd_missing")
    store.put("kyd_a", bytes(range(256)))
    store.put("kyd_b", b"")
    assert store.get("kyd_a") == bytes(range(256)) and store.get("kyd_b") == b""


def test_stores_refuse_keys_that_could_leave_them(store):
    """A key is an id, never a path (``..``, a slash or nothing)."""
    for key in ("../etc/passwd", "a/b", ""):
        with pytest.raises(InvalidInput):
            store.put(key, b"x")


def test_the_directory_refuses_keys_that_could_leave_it(tmp_path):
    """A key is an id, never a path."""
    store = FileDocumentStore(tmp_path / "documents")
    for key in ("../etc/passwd", "a/b", ""):
        with pytest.raises(InvalidInput):
            store.put(key, b"x")


def test_the_directory_keeps_blobs_private(tmp_path):
    """Files 0600 in 0700 directories."""
    FileDocumentStore(tmp_path / "documents").put("kyd_1", b"x")
    [path] = list((tmp_path / "documents").rglob("kyd_1"))
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_stored_lists_every_key_with_when_it_was_written(store):
    """``stored`` names each blob once (a replaced one once), with an aware timestamp; deleted ones are gone."""
    for key in ("kyd_b", "kyd_a", "kyd_a", "kyd_c"):
        store.put(key, b"x")
    store.delete("kyd_c")
    listed = dict(store.stored())
    assert sorted(listed) == ["kyd_a", "kyd_b"]
    assert all(at.tzinfo is not None for at in listed.values())


def test_the_orphan_sweep_removes_only_old_blobs_no_application_names(store):
    """A blob whose record never committed goes once it is past the grace; named and fresh blobs stay."""
    rig = KycRig(documents=store)
    rig.clock.set(datetime.now(UTC) - timedelta(minutes=1))  # real stores stamp writes with the real time
    app_id = rig.personal()
    named = {d.id for d in rig.review.standing("usr_wanjiku").applications[0].documents}
    store.put("kyd_orphan", b"sealed")
    assert rig.review.sweep_orphans() == []  # within the grace: an upload may still be committing
    rig.clock.advance(hours=2)
    assert rig.review.sweep_orphans() == ["kyd_orphan"]
    assert {key for key, _ in store.stored()} == named
    assert "kyc.orphan_documents_removed" in rig.audit_actions()
    assert app_id


def test_applications_are_found_by_their_id_document_kept_as_a_keyed_hash(applications, engine):
    """G5: ``sharing_id`` finds every application that gave one ID document (typed with spaces or not); the SQL
    column holds its keyed hash, never the number."""
    applications.add(application("kya_1", "usr_1"))
    applications.add(application("kya_2", "usr_2", minutes=1))
    other = application("kya_3", "usr_3", minutes=2)
    other.person = person(id_number="12345678")
    applications.add(other)
    applications.add(application("kya_4", "mer_1", merchant=True))
    key = id_key(IdType.NATIONAL_ID, "2345 6789")
    assert [a.id for a in applications.sharing_id(key)] == ["kya_1", "kya_2"]
    assert applications.sharing_id(id_key(IdType.PASSPORT, "23456789")) == []
    if engine is not None:
        import sqlalchemy as sa

        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT id_lookup FROM kyc_applications WHERE id = 'kya_1'")).scalar()
        assert stored is not None and "23456789" not in stored and len(stored) == 64


def test_a_second_account_with_the_same_id_waits_for_an_officer_to_link_them(rig):
    """G5: one national ID, two personal accounts. The first is verified at tier 2; the second's submission finds
    the first (``id_shared_with``, audited ``kyc.id_shared``) and its approval is refused (``id_in_use``, audited
    ``kyc.approval_refused``) until the reviewing officer links them with a reason (audited ``kyc.id_linked``);
    four-eyes still applies after. A draft or a rejected application claims no ID."""
    first = rig.personal("usr_amina")
    rig.decide("usr_ann", first)
    rig.decide("usr_bob", first)
    draft = rig.review.apply_personal("usr_draft", 1, person(), notify_to=None)
    second = rig.personal("usr_fake2", id_number="2345 6789")
    found = rig.review.application("usr_ann", second)
    assert found.id_shared_with == ("usr_amina",) and found.id_unlinked == ("usr_amina",)
    assert draft.party_id not in found.id_shared_with
    rig.review.claim("usr_ann", second)
    with pytest.raises(IdInUse) as refused:
        approve_after_reading(rig.review, "usr_ann", second)
    assert refused.value.details == {"accounts": ["usr_amina"]} and refused.value.code == "id_in_use"
    assert rig.review.standing("usr_fake2").profile.level is None
    assert rig.review.application("usr_ann", second).state is ApplicationState.IN_REVIEW
    with pytest.raises(InvalidInput):
        rig.review.link_id("usr_ann", second, "  ")
    with pytest.raises(Conflict):
        rig.review.link_id("usr_bob", second, "not mine to link")  # claimed by another officer
    linked = rig.review.link_id("usr_ann", second, "same person: the first SIM was lost, account closed")
    assert linked.id_linked == ("usr_amina",) and linked.id_unlinked == ()
    approve_after_reading(rig.review, "usr_ann", second)
    rig.decide("usr_bob", second)
    assert rig.review.standing("usr_fake2").profile.level == 2
    assert "SIM was lost" in _linked_audit(rig, "usr_amina")["reason"]


def test_an_id_shared_after_submission_is_found_at_approval(rig):
    """G5: two accounts submit the same ID before either is decided: each sees the other; the first to be approved
    waits for a link too (the check runs again at every approval)."""
    one = rig.personal("usr_one", level=1)
    two = rig.personal("usr_two", level=1)
    rig.review.claim("usr_ann", one)
    with pytest.raises(IdInUse):
        approve_after_reading(rig.review, "usr_ann", one)
    assert rig.review.application("usr_ann", one).id_shared_with == ("usr_two",)
    rig.review.claim("usr_bob", two)
    rig.review.reject("usr_bob", two, "a second account for one person")
    approve_after_reading(rig.review, "usr_ann", one)  # the rejected one claims the ID no more
    assert rig.review.standing("usr_one").profile.level == 1


def test_a_kyb_is_found_by_its_registration_number_and_by_its_directors_ids(applications, engine):
    """G5 for businesses: ``sharing_id`` finds the KYBs that gave one registration number (however typed), and with
    ``directors`` those naming a director who gave one ID; a person's own ID is never matched against a director's
    (a director may hold a personal wallet), nor a registration against a person's ID. The SQL columns hold keyed
    hashes only; a director changed or erased leaves no row behind."""
    first = application("kya_1", "mer_1", merchant=True)
    second = application("kya_2", "mer_2", merchant=True, minutes=1)
    second.business = business("pvt ab12.cd3", director("Achieng Atieno", IdType.PASSPORT, "AK123456"))
    for item in (first, second, application("kya_3", "usr_1", minutes=2)):
        applications.add(item)
    assert [a.id for a in applications.sharing_id(registration_key("PVT-AB12CD3"))] == ["kya_1", "kya_2"]
    otieno = id_key(IdType.NATIONAL_ID, "12345678")
    assert [a.id for a in applications.sharing_id(otieno, directors=True)] == ["kya_1"]
    assert applications.sharing_id(otieno) == []  # no person applied with Otieno's ID
    assert applications.sharing_id(id_key(IdType.NATIONAL_ID, "23456789"), directors=True) == []  # usr_1's own
    assert applications.sharing_id(registration_key("PVT-AB12CD4")) == []
    first.business = business("PVT-AB12CD3", director("Achieng Atieno", IdType.PASSPORT, "AK123456"))
    applications.update(first)
    achieng = id_key(IdType.PASSPORT, "AK123456")
    assert applications.sharing_id(otieno, directors=True) == []
    assert [a.id for a in applications.sharing_id(achieng, directors=True)] == ["kya_1", "kya_2"]
    second.business = None  # erased (retention)
    applications.update(second)
    assert [a.id for a in applications.sharing_id(achieng, directors=True)] == ["kya_1"]
    assert [a.id for a in applications.sharing_id(registration_key("PVT-AB12CD3"))] == ["kya_1"]
    if engine is not None:
        import sqlalchemy as sa

        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT id_lookup FROM kyc_applications WHERE id = 'kya_1'")).scalar()
            rows = conn.execute(sa.text("SELECT application_id, director_id, lookup FROM kyc_director_lookups")).all()
        assert stored is not None and "AB12CD3" not in stored and len(stored) == 64
        assert [(r[0], r[1]) for r in rows] == [("kya_1", "d1")]
        assert "AK123456" not in rows[0][2] and len(rows[0][2]) == 64


def test_a_second_merchant_with_the_same_registration_waits_for_an_officer_to_link_them(rig):
    """G5 for businesses: one registration number, two merchants. The first is verified; the second's submission
    finds it (``id_shared_with``, audited ``kyc.id_shared``); its approval is refused 409 ``registration_in_use``
    (an ``IdInUse``, naming the merchants; audited ``kyc.approval_refused``) until the reviewing officer links them
    with a reason (``link_id``, audited ``kyc.id_linked``); four-eyes still applies after."""
    first = rig.kyb("mer_duka", "usr_owner")
    rig.decide("usr_ann", first)
    rig.decide("usr_bob", first)
    second = rig.kyb(
        "mer_duka2", "usr_other", business(" pvt-ab12cd3 ", director("Achieng Atieno", id_number="22334455"))
    )
    found = rig.review.application("usr_ann", second)
    assert found.id_shared_with == ("mer_duka",) and found.id_unlinked == ("mer_duka",)
    assert found.directors_elsewhere == {}  # another director: nobody is on both
    with pytest.raises(RegistrationInUse) as refused:
        rig.decide("usr_ann", second)
    assert isinstance(refused.value, IdInUse) and refused.value.code == "registration_in_use"
    assert refused.value.details == {"accounts": ["mer_duka"]} and "registration number" in str(refused.value)
    assert rig.review.standing("mer_duka2").profile.level is None
    linked = rig.review.link_id("usr_ann", second, "the same company: its first merchant account is closed")
    assert linked.id_linked == ("mer_duka",)
    approve_after_reading(rig.review, "usr_ann", second)
    rig.decide("usr_bob", second)
    assert rig.review.standing("mer_duka2").profile.level == 1
    assert "closed" in _linked_audit(rig, "mer_duka")["reason"]


def test_a_director_of_two_businesses_is_shown_and_a_directors_own_wallet_is_no_conflict(rig):
    """A person may direct two businesses: the second KYB shows the officers the first merchant by the director
    (``directors_elsewhere``, audited ``kyc.director_shared``) and is approved all the same. The same person's
    personal account (their ID as a director's) conflicts with neither."""
    rig.kyb("mer_duka", "usr_owner")
    other = rig.kyb(
        "mer_shamba", "usr_owner", business("PVT-ZZ99YY8", director("Amina Hassan", id_number="87654321"), director())
    )
    wallet = rig.personal("usr_otieno", id_number="1234 5678")
    found = rig.review.application("usr_ann", other)
    assert found.id_shared_with == () and found.directors_elsewhere == {"d2": ("mer_duka",)}
    rig.decide("usr_ann", other)
    rig.decide("usr_bob", other)
    assert rig.review.standing("mer_shamba").profile.level == 1
    assert rig.review.application("usr_ann", wallet).id_shared_with == ()
    rig.decide("usr_ann", wallet)
    rig.decide("usr_bob", wallet)
    assert rig.review.standing("usr_otieno").profile.level == 2
    with rig.storage.unit_of_work() as uow:
        shared = [dict(r.details) for r in uow.audit.records() if r.action == "kyc.director_shared"]
    assert [s["directors"] for s in shared] == ["d2:mer_duka"]
    assert "kyc.approval_refused" not in rig.audit_actions()


def test_with_no_sanctions_list_loaded_an_application_is_accepted_flagged_and_screened_once_one_is(engine):
    """R12-3: screening required and no list: the application is submitted and approved (never a clean no-match:
    ``screening_pending``, audited); nothing is screened while there is still no list; the import's screening of
    pending applications keeps the match for the officers and clears the flag."""
    from cryptopay.adapters.sanctions import RapidfuzzMatcher
    from cryptopay.core.compliance.screening import ListEntry, Screening
    from cryptopay.core.testing.compliance import monitoring_repositories
    from cryptopay.core.testing.storage import InMemoryStorage
    from cryptopay.core.testing.system import ManualClock, SequentialIds

    lists = InMemoryStorage(**monitoring_repositories())
    screening = Screening(
        uow=lists.unit_of_work, matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=SequentialIds(), required=True
    )
    if engine is None:
        rig = KycRig(screening=screening)
    else:
        from cryptopay.adapters.sql.uow import SqlStorage

        rig = KycRig(SqlStorage(engine, personal=TEST_PERSONAL), screening=screening)
    app_id = rig.personal(level=1)  # Wanjiku Kamau
    rig.decide("usr_ann", app_id)
    [approved] = rig.review.standing("usr_wanjiku").applications
    assert approved.state.value == "approved" and approved.screening_pending and approved.sanctions_matches == ()
    assert "kyc.screening_pending" in rig.audit_actions() and rig.review.screen_pending() == []
    held: list[tuple[str, str]] = []
    rig.review.on_listed = held.extend  # as wired: the party's names to Monitoring.rescreen, which holds it
    entry = ListEntry(ref="ofac:1", kind="individual", names=("WANJIKU KAMAU",))
    screening.import_list("ofac_sdn", "v-1", [entry], actor="operator:test")
    [screened] = rig.review.screen_pending()
    assert not screened.screening_pending and screened.sanctions_matches[0].startswith("ofac_sdn ofac:1")
    assert held == [("usr_wanjiku", "Wanjiku Kamau")]
    assert rig.review.screen_pending() == [] and {"kyc.sanctions_match", "kyc.screened"} <= set(rig.audit_actions())
