"""KYC/KYB review use cases on the in-memory storage: applying, documents, the queue, four-eyes and notices."""

from __future__ import annotations

from datetime import date

import attrs
import pytest
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused, Unavailable
from cryptopay.core.kyc import KycStatus
from cryptopay.core.kyc.applications import ApplicationState
from cryptopay.core.kyc.checks import IdType, check_birth_date, check_id_number, check_kra_pin
from cryptopay.core.kyc.documents import DocumentKind, DocumentRejected
from cryptopay.core.kyc.review import document_context
from cryptopay.core.testing.kyc import InMemoryDocumentStore

from tests.support.kyc_rig import KycRig, approve_after_reading, business, director, pdf, person, photo


@pytest.fixture
def rig() -> KycRig:
    return KycRig()


def test_the_top_tier_needs_two_different_officers_and_takes_effect_at_the_second(rig):
    """A tier-2 application is granted only at the second officer's approval; the first cannot approve twice."""
    app_id = rig.personal()
    rig.decide("usr_ann", app_id)
    standing = rig.review.standing("usr_wanjiku")
    assert standing.profile.level is None and standing.profile.status is KycStatus.PENDING
    assert standing.applications[0].state is ApplicationState.SUBMITTED
    with pytest.raises(Conflict):
        rig.review.claim("usr_ann", app_id)
    rig.decide("usr_bob", app_id)
    standing = rig.review.standing("usr_wanjiku")
    assert standing.profile.level == 2 and standing.applications[0].state is ApplicationState.APPROVED
    assert [n.subject for n in rig.notifier.sent] == ["Your identity verification is approved"]


def test_tier_one_needs_one_officer(rig):
    """A national-ID application (tier 1) is granted by one approval, with no documents."""
    app_id = rig.personal(level=1)
    rig.decide("usr_ann", app_id)
    assert rig.review.standing("usr_wanjiku").profile.level == 1


def test_every_kyb_needs_four_eyes(rig):
    """A merchant's KYB is approved only by a second officer."""
    app_id = rig.kyb()
    rig.decide("usr_ann", app_id)
    assert rig.review.standing("mer_duka").profile.level is None
    rig.decide("usr_bob", app_id)
    assert rig.review.standing("mer_duka").profile.level == 1


def test_nobody_reviews_their_own_application(rig):
    """The applicant (or a merchant's owner) cannot claim their own application."""
    with pytest.raises(Refused):
        rig.review.claim("usr_wanjiku", rig.personal())
    with pytest.raises(Refused):
        rig.review.claim("usr_owner", rig.kyb())


def test_an_application_claimed_by_one_officer_cannot_be_decided_by_another(rig):
    """Claims are exclusive: a second officer can neither claim nor decide it."""
    app_id = rig.personal(level=1)
    rig.review.claim("usr_ann", app_id)
    with pytest.raises(Conflict):
        rig.review.claim("usr_bob", app_id)
    with pytest.raises(Conflict):
        approve_after_reading(rig.review, "usr_bob", app_id)


def test_deciding_needs_a_claim(rig):
    """An unclaimed application cannot be approved."""
    with pytest.raises(InvalidState):
        approve_after_reading(rig.review, "usr_ann", rig.personal(level=1))


def test_a_rejection_needs_a_reason_and_tells_the_applicant(rig):
    """A rejection without a reason changes nothing; with one, the applicant is told it and may apply again."""
    app_id = rig.personal(level=1)
    rig.review.claim("usr_ann", app_id)
    with pytest.raises(InvalidInput):
        rig.review.reject("usr_ann", app_id, "  ")
    rig.review.reject("usr_ann", app_id, "the ID number does not match the registry")
    standing = rig.review.standing("usr_wanjiku")
    assert standing.profile.status is KycStatus.REJECTED and standing.profile.level is None
    assert "does not match the registry" in rig.notifier.sent[-1].body
    rig.personal(level=1)  # a new application may be opened


def test_information_requested_sends_it_back_and_clears_earlier_approvals(rig):
    """After a first approval, asking for more information clears it: two fresh approvals are needed again."""
    app_id = rig.personal()
    rig.decide("usr_ann", app_id)
    rig.review.claim("usr_bob", app_id)
    rig.review.request_information("usr_bob", app_id, "the selfie is blurred")
    assert rig.notifier.sent[-1].subject == "Your identity verification needs more information"
    rig.review.upload("usr_wanjiku", app_id, DocumentKind.SELFIE, photo(900, 900))
    rig.review.submit("usr_wanjiku", app_id)
    rig.decide("usr_bob", app_id)
    assert rig.review.standing("usr_wanjiku").profile.level is None
    rig.decide("usr_ann", app_id)
    assert rig.review.standing("usr_wanjiku").profile.level == 2


def test_a_second_open_application_is_a_conflict(rig):
    """One open application per party."""
    rig.review.apply_personal("usr_wanjiku", 1, person(), notify_to=None)
    with pytest.raises(Conflict):
        rig.review.apply_personal("usr_wanjiku", 2, person(), notify_to=None)


def test_submitting_without_the_needed_documents_names_them(rig):
    """A tier-2 application without its photos is refused, naming what is missing."""
    application = rig.review.apply_personal("usr_wanjiku", 2, person(), notify_to=None)
    rig.review.upload("usr_wanjiku", application.id, DocumentKind.ID_FRONT, photo())
    with pytest.raises(InvalidState) as refused:
        rig.review.submit("usr_wanjiku", application.id)
    assert refused.value.details["missing"] == ["id_back", "selfie"]


def test_a_passport_needs_no_back(rig):
    """A passport application needs the front page and a selfie only."""
    application = rig.review.apply_personal("usr_w", 2, person(IdType.PASSPORT, "AK0123456"), notify_to=None)
    assert application.missing_documents() == [DocumentKind.ID_FRONT, DocumentKind.SELFIE]


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        (DocumentKind.ID_FRONT, pdf(), "must be JPEG, PNG"),
        (DocumentKind.ID_FRONT, photo(300, 200), "at least 600 x 400"),
        (DocumentKind.SELFIE, b"GIF89a....", "must be JPEG, PNG"),
        (DocumentKind.ID_FRONT, photo()[:200], "could not be read"),
        (DocumentKind.CERTIFICATE_OF_INCORPORATION, b"%PDF-1.4 truncated", "truncated"),
        (DocumentKind.ID_FRONT, b"", "empty"),
    ],
)
def test_documents_are_checked_by_content(rig, kind, content, message):
    """Type by magic bytes, images decoded and measured, PDFs complete; a refused upload stores nothing."""
    owner = "mer_duka" if kind is DocumentKind.CERTIFICATE_OF_INCORPORATION else "usr_w"
    if owner == "mer_duka":
        from tests.support.kyc_rig import business

        application = rig.review.apply_business(owner, business(), owner_id="usr_o", notify_to=None)
    else:
        application = rig.review.apply_personal(owner, 2, person(), notify_to=None)
    with pytest.raises(DocumentRejected, match=message):
        rig.review.upload(owner, application.id, kind, content)
    assert rig.documents.blobs == {}


def test_documents_are_encrypted_bound_to_their_record_and_read_only_with_an_audit(rig):
    """The store holds a vault blob, not the photo; an officer's read decrypts it and is audited first."""
    application = rig.review.apply_personal("usr_w", 2, person(), notify_to=None)
    content = photo(PNG_W, 700, fmt="PNG")
    document = rig.review.upload("usr_w", application.id, DocumentKind.ID_FRONT, content)
    blob = rig.documents.get(document.id)
    assert content not in blob and blob.startswith(b"CPV")
    stored, read = rig.review.document("usr_ann", application.id, document.id)
    assert read == content and stored.content_type == "image/png" and (stored.width, stored.height) == (PNG_W, 700)
    assert rig.audit_actions()[-1] == "kyc.document_viewed"
    with pytest.raises(Exception, match="does not decrypt"):
        rig.vault.decrypt(blob, context=document_context("kya_other", document.id))


PNG_W = 1000


def test_a_replaced_document_removes_the_old_blob(rig):
    """Uploading the same kind again replaces the metadata and deletes the old content."""
    application = rig.review.apply_personal("usr_w", 2, person(), notify_to=None)
    first = rig.review.upload("usr_w", application.id, DocumentKind.SELFIE, photo(500, 500))
    second = rig.review.upload("usr_w", application.id, DocumentKind.SELFIE, photo(600, 600))
    assert set(rig.documents.blobs) == {second.id} and first.id != second.id


def test_a_stranger_cannot_upload_to_or_submit_an_application(rig):
    """Another party's application is not found for them, and nothing is stored."""
    application = rig.review.apply_personal("usr_w", 2, person(), notify_to=None)
    with pytest.raises(NotFound):
        rig.review.upload("usr_eve", application.id, DocumentKind.SELFIE, photo())
    with pytest.raises(NotFound):
        rig.review.submit("usr_eve", application.id)
    assert rig.documents.blobs == {}


def test_the_officers_free_text_stays_in_the_application_not_in_the_audit_log(rig):
    """A rejection's reason and a request's message (free text about the applicant) are kept in the application's
    history, which the audit records name; the hash-chained log, never rewritten, does not copy them."""
    first = rig.personal(level=1)
    rig.review.claim("usr_ann", first)
    rig.review.request_information("usr_ann", first, "the selfie shows Njeri Wambui")
    rig.review.submit("usr_wanjiku", first)
    rig.review.claim("usr_ann", first)
    rig.review.reject("usr_ann", first, "Njeri Wambui again, not the applicant")
    with rig.storage.unit_of_work() as uow:
        records = uow.audit.records()
        history = uow.kyc_applications.get(first).history
    decided = [r for r in records if r.action in ("kyc.information_requested", "kyc.application_rejected")]
    assert [dict(r.details)["application"] for r in decided] == [first, first]
    assert "Njeri" not in repr([r.details for r in records])
    assert [s.note for s in history if s.note] == [
        "the selfie shows Njeri Wambui",
        "Njeri Wambui again, not the applicant",
    ]


def test_every_step_is_audited(rig):
    """Opening, uploads, submission, claim, the officer's reads and decisions each leave an audit record."""
    rig.decide("usr_ann", rig.personal(level=1))
    assert rig.audit_actions() == [
        "kyc.application_opened",
        "kyc.application_submitted",
        "kyc.application_claimed",
        "kyc.application_viewed",
        "kyc.application_approved",
    ]


def test_an_undeliverable_notice_is_audited_and_the_decision_stands(rig):
    """The notifier failing does not undo an approval."""
    from cryptopay.core.errors import Unavailable

    def fail(_notification):
        raise Unavailable("smtp down")

    rig.notifier.send = fail
    app_id = rig.personal(level=1)
    rig.decide("usr_ann", app_id)
    assert rig.review.standing("usr_wanjiku").profile.level == 1
    assert rig.audit_actions()[-1] == "kyc.notice_failed"


@pytest.mark.parametrize(
    ("id_type", "number", "ok"),
    [
        (IdType.NATIONAL_ID, "12345678", True),
        (IdType.NATIONAL_ID, "1234567", True),
        (IdType.NATIONAL_ID, "123456789", False),
        (IdType.NATIONAL_ID, "A2345678", False),
        (IdType.PASSPORT, "AK0123456", True),
        (IdType.PASSPORT, "ABCDEFG", False),
        (IdType.ALIEN_ID, "123456", True),
        (IdType.ALIEN_ID, "12345", False),
    ],
)
def test_id_number_formats(id_type, number, ok):
    """Each ID type has its format."""
    if ok:
        assert check_id_number(id_type, number) == number
    else:
        with pytest.raises(InvalidInput):
            check_id_number(id_type, number)


@pytest.mark.parametrize("pin", ["A012345678Z", "P051234567Q"])
def test_kra_pins_that_pass(pin):
    """A or P, nine digits, a letter."""
    assert check_kra_pin(pin) == pin


@pytest.mark.parametrize("pin", ["B012345678Z", "A01234567Z", "A0123456789", "P05123456Q7"])
def test_kra_pins_that_fail(pin):
    """Anything else is refused."""
    with pytest.raises(InvalidInput):
        check_kra_pin(pin)


def test_applicants_are_adults():
    """A 17-year-old is refused; an 18-year-old is accepted on their birthday."""
    today = date(2026, 3, 2)
    with pytest.raises(InvalidInput):
        check_birth_date(date(2008, 3, 3), today=today)
    assert check_birth_date(date(2008, 3, 2), today=today) == date(2008, 3, 2)


def test_a_replaced_document_and_a_failed_record_leave_no_blob_behind():
    """Replacing a photo removes the old blob; an upload whose record cannot be written removes its own blob."""
    rig = KycRig()
    application = rig.review.apply_personal("usr_w", 2, person(), notify_to=None)
    first = rig.review.upload("usr_w", application.id, DocumentKind.ID_FRONT, photo())
    second = rig.review.upload("usr_w", application.id, DocumentKind.ID_FRONT, photo(900, 700))
    assert set(rig.documents.blobs) == {second.id} and first.id != second.id
    with pytest.raises(InvalidInput):  # a tier-2 application takes no certificate: refused after the blob is written
        rig.review.upload("usr_w", application.id, DocumentKind.CERTIFICATE_OF_INCORPORATION, pdf())
    assert set(rig.documents.blobs) == {second.id}


def test_an_unreachable_store_on_cleanup_does_not_hide_the_real_error():
    """The record's failure is what the caller sees; the blob the store kept is left for the sweep."""

    class Flaky(InMemoryDocumentStore):
        def delete(self, key: str) -> None:
            raise Unavailable("store down")

    rig = KycRig(documents=Flaky())
    application = rig.review.apply_personal("usr_w", 2, person(), notify_to=None)
    with pytest.raises(InvalidInput):
        rig.review.upload("usr_w", application.id, DocumentKind.CERTIFICATE_OF_INCORPORATION, pdf())
    assert len(rig.documents.blobs) == 1


def _kyb_without_director_documents(rig, details=None):
    application = rig.review.apply_business("mer_duka", details or business(), owner_id="usr_owner", notify_to=None)
    rig.review.upload("mer_duka", application.id, DocumentKind.CERTIFICATE_OF_INCORPORATION, pdf())
    return application


def test_each_director_is_numbered_and_needs_their_own_id_photos_and_selfie():
    """Directors get ids d1, d2 in order; submitting names each director's missing document; a passport holder
    needs no back."""
    rig = KycRig()
    details = attrs.evolve(business(), directors=(director(), director("Achieng Atieno", IdType.PASSPORT, "AK123456")))
    application = _kyb_without_director_documents(rig, details)
    assert [d.id for d in application.directors] == ["d1", "d2"]
    with pytest.raises(InvalidState, match="d1:id_front") as refused:
        rig.review.submit("mer_duka", application.id)
    assert refused.value.details["missing"] == ["d1:id_front", "d1:id_back", "d1:selfie", "d2:id_front", "d2:selfie"]


def test_a_directors_document_must_be_one_of_theirs_and_replaces_only_their_own():
    """Unknown directors and kinds a director does not give are refused; the same kind for two directors is two
    documents, and a director's second selfie replaces only their first."""
    rig = KycRig()
    details = attrs.evolve(business(), directors=(director(), director("Achieng Atieno")))
    application = _kyb_without_director_documents(rig, details)
    with pytest.raises(InvalidInput, match="no director"):
        rig.review.upload("mer_duka", application.id, DocumentKind.SELFIE, photo(), director="d9")
    with pytest.raises(InvalidInput, match="not a document we take"):
        rig.review.upload("mer_duka", application.id, DocumentKind.CERTIFICATE_OF_INCORPORATION, pdf(), director="d1")
    first = rig.review.upload("mer_duka", application.id, DocumentKind.SELFIE, photo(), director="d1")
    rig.review.upload("mer_duka", application.id, DocumentKind.SELFIE, photo(), director="d2")
    again = rig.review.upload("mer_duka", application.id, DocumentKind.SELFIE, photo(500, 500), director="d1")
    [stored] = rig.review.standing("mer_duka").applications
    selfies = {(d.director, d.id) for d in stored.documents if d.kind is DocumentKind.SELFIE}
    assert len(selfies) == 2 and ("d1", again.id) in selfies and first.id not in rig.documents.blobs


def test_a_director_without_their_own_particulars_is_refused_at_once():
    """A director named without a date of birth, phone or address cannot be verified: the application is refused."""
    rig = KycRig()
    bare = attrs.evolve(business(), directors=(attrs.evolve(director(), date_of_birth=None),))
    with pytest.raises(InvalidInput, match="Otieno Odhiambo needs a date of birth"):
        rig.review.apply_business("mer_duka", bare, owner_id="usr_owner", notify_to=None)


def test_kyb_approval_needs_every_director_verified_by_the_reviewing_officer():
    """Approval is refused naming the unverified directors; verifying needs the claim; it is audited; asking for
    more information clears the checks (documents may change)."""
    rig = KycRig()
    app_id = rig.kyb()
    with pytest.raises(InvalidState):  # not claimed yet
        rig.review.verify_director("usr_ann", app_id, "d1")
    rig.review.claim("usr_ann", app_id)
    with pytest.raises(Conflict):  # another officer's claim
        rig.review.verify_director("usr_bob", app_id, "d1")
    with pytest.raises(InvalidState, match="d1 \\(Otieno Odhiambo\\)"):
        approve_after_reading(rig.review, "usr_ann", app_id)
    verified = rig.review.verify_director("usr_ann", app_id, "d1")
    assert verified.verified_directors == ("d1",) and "kyc.director_verified" in rig.audit_actions()
    rig.review.request_information("usr_ann", app_id, "the director's selfie is blurred")
    [application] = rig.review.standing("mer_duka").applications
    assert application.verified_directors == ()


def test_a_kyb_is_granted_after_two_officers_once_its_directors_are_verified():
    """The first officer verifies the directors and approves; the second approves; the tier is in force."""
    rig = KycRig()
    app_id = rig.kyb()
    rig.decide("usr_ann", app_id)
    rig.decide("usr_bob", app_id)
    assert rig.review.standing("mer_duka").profile.level == 1


def test_four_eyes_need_eyes_each_officer_reads_everything_since_the_last_submission(rig):
    """Finding I9: an approval is refused (409 ``documents_not_reviewed``, naming what is unread, nothing changed)
    until *this* officer read the particulars and every document since the last submission; another officer's
    reads, or reads before a resubmission, do not count."""
    from cryptopay.core.errors import Refused
    from cryptopay.core.kyc.applications import DocumentsNotReviewed

    from tests.support.kyc_rig import read_everything

    app_id = rig.personal(level=2)
    rig.review.claim("usr_ann", app_id)
    with pytest.raises(DocumentsNotReviewed) as refused:
        rig.review.approve("usr_ann", app_id)
    assert refused.value.http_status == 409
    assert refused.value.details["unread"] == ["application", "id_front", "id_back", "selfie"]
    rig.review.application("usr_ann", app_id)
    first = rig.review.application("usr_ann", app_id).documents[0]
    rig.review.document("usr_ann", app_id, first.id)
    with pytest.raises(DocumentsNotReviewed) as refused:
        rig.review.approve("usr_ann", app_id)
    assert refused.value.details["unread"] == ["id_back", "selfie"]
    assert "kyc.application_approved" not in rig.audit_actions()
    read_everything(rig.review, "usr_ann", app_id)
    rig.review.approve("usr_ann", app_id)
    read_everything(rig.review, "usr_ann", app_id)  # Ann's reads are not Bob's
    rig.review.claim("usr_bob", app_id)
    with pytest.raises(DocumentsNotReviewed):
        rig.review.approve("usr_bob", app_id)
    read_everything(rig.review, "usr_bob", app_id)
    with pytest.raises(Refused):  # from a shell (an operator named): two officers cannot be proven
        rig.review.approve("usr_bob", app_id, operator="ops:root")
    assert rig.review.approve("usr_bob", app_id).state.value == "approved"
    one = rig.personal("usr_otieno", level=1, id_number="34567890")
    rig.review.claim("usr_ann", one)
    read_everything(rig.review, "usr_ann", one)
    assert rig.review.approve("usr_ann", one, operator="ops:root").state.value == "approved"
    [approved] = [r for r in rig.audit_records() if dict(r.details).get("application") == one][-1:]
    assert (approved.actor, dict(approved.details)["operator"]) == ("user:usr_ann", "ops:root")
