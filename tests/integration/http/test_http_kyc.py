"""KYC/KYB over REST: a customer applies and uploads, two officers review, the tier is in force at once."""

from __future__ import annotations

import base64

import pytest

from tests.support.kyc_rig import pdf, photo

PERSON = {
    "level": 2,
    "legal_name": "Wanjiku Kamau",
    "date_of_birth": "1990-05-17",
    "id_type": "national_id",
    "id_number": "23456789",
    "phone": "0712345678",
    "address": "Moi Avenue 12, Nairobi",
}
BUSINESS = {
    "registered_name": "Duka Ltd",
    "registration_number": "PVT-AB12CD3",
    "kra_pin": "P051234567Q",
    "phone": "+254712345678",
    "address": "Kenyatta Avenue 1, Nairobi",
    "directors": [
        {
            "name": "Otieno Odhiambo",
            "id_type": "national_id",
            "id_number": "12345678",
            "date_of_birth": "1980-01-02",
            "phone": "0722000111",
            "address": "Ngong Road 5, Nairobi",
        }
    ],
}


def upload(client, headers, app_id, kind, content, director=None):
    body = {"kind": kind, "content_base64": base64.b64encode(content).decode()}
    if director is not None:
        body["director"] = director
    return client.post(f"/v1/kyc/applications/{app_id}/documents", json=body, headers=headers)


def read_everything(client, officer, app_id):
    """What approving needs first: this officer's audited reads of the application and each document."""
    shown = client.get(f"/v1/admin/kyc/applications/{app_id}", headers=officer)
    assert shown.status_code == 200, shown.json
    for document in shown.json["documents"]:
        read = client.get(f"/v1/admin/kyc/applications/{app_id}/documents/{document['id']}", headers=officer)
        assert read.status_code == 200


def decide(client, officer, app_id, action="approve", body=None):
    claimed = client.post(f"/v1/admin/kyc/applications/{app_id}/claim", headers=officer)
    assert claimed.status_code == 200, claimed.json
    read_everything(client, officer, app_id)
    return client.post(f"/v1/admin/kyc/applications/{app_id}/{action}", json=body, headers=officer)


def test_a_customer_is_verified_by_two_officers_and_their_limits_change(client, auth):
    """Apply, upload three photos, submit; one approval keeps tier none, the second grants tier 2 and its limits."""
    customer, ann, bob = auth.user("personal"), auth.user("compliance"), auth.user("compliance")
    created = client.post("/v1/kyc/applications", json=PERSON, headers=customer)
    assert created.status_code == 201, created.json
    app_id = created.json["id"]
    assert created.json["missing_documents"] == ["id_front", "id_back", "selfie"]
    for kind in ("id_front", "id_back", "selfie"):
        assert upload(client, customer, app_id, kind, photo()).status_code == 201
    submitted = client.post(f"/v1/kyc/applications/{app_id}/submit", headers=customer)
    assert submitted.json["state"] == "submitted"
    queue = client.get("/v1/admin/kyc/queue", headers=ann).json
    assert [a["id"] for a in queue["data"]] == [app_id]
    first = decide(client, ann, app_id)
    assert (first.json["state"], first.json["approvals"], first.json["approvals_needed"]) == ("submitted", 1, 2)
    assert client.post(f"/v1/admin/kyc/applications/{app_id}/claim", headers=ann).status_code == 409
    assert decide(client, bob, app_id).json["state"] == "approved"
    mine = client.get("/v1/kyc", headers=customer).json
    assert (mine["tier"], mine["single_limit"], mine["daily_limit"]) == (2, "250000.00", "500000.00")


def test_one_national_id_verifies_a_second_account_only_once_an_officer_links_them(client, auth):
    """G5: a second account submits the ID of a verified one: the officers' queue and reading
    name the first account (the applicant's own view does not); the approval is a 409 id_in_use naming it until
    the claiming officer links them with a reason (422 without one)."""
    first, second = auth.user("personal"), auth.user("personal")
    ann, bob = auth.user("compliance"), auth.user("compliance")
    one = client.post("/v1/kyc/applications", json={**PERSON, "level": 1}, headers=first).json["id"]
    assert client.post(f"/v1/kyc/applications/{one}/submit", headers=first).status_code == 200
    assert decide(client, ann, one).json["state"] == "approved"
    verified = client.get("/v1/kyc", headers=first).json["party_id"]
    two = client.post("/v1/kyc/applications", json={**PERSON, "level": 1}, headers=second).json["id"]
    submitted = client.post(f"/v1/kyc/applications/{two}/submit", headers=second).json
    assert submitted["id_shared_with"] is None  # no tipping off
    [row] = client.get("/v1/admin/kyc/queue", headers=ann).json["data"]
    assert row["id_shared_with"] == [verified] and row["id_linked"] == []
    refused = decide(client, ann, two)
    assert (refused.status_code, refused.json["code"], refused.json["accounts"]) == (409, "id_in_use", [verified])
    path = f"/v1/admin/kyc/applications/{two}/link-id"
    assert client.post(path, json={"reason": ""}, headers=ann).status_code == 422
    assert client.post(path, json={"reason": "same person"}, headers=bob).status_code == 409  # not bob's claim
    linked = client.post(path, json={"reason": "same person, first SIM lost"}, headers=ann)
    assert linked.status_code == 200 and linked.json["id_linked"] == [verified]
    assert linked.json["id_link_reason"] == "same person, first SIM lost"
    approved = client.post(f"/v1/admin/kyc/applications/{two}/approve", headers=ann)
    assert approved.status_code == 200 and approved.json["state"] == "approved"
    assert client.get("/v1/kyc", headers=second).json["tier"] == 1


def submitted_kyb(client, owner, details=BUSINESS):
    """A merchant's KYB with its certificate and every director's photos, submitted; its id."""
    app_id = client.post("/v1/kyc/business-applications", json=details, headers=owner).json["id"]
    assert upload(client, owner, app_id, "certificate_of_incorporation", pdf()).status_code == 201
    for n in range(1, len(details["directors"]) + 1):
        for kind in ("id_front", "id_back", "selfie"):
            assert upload(client, owner, app_id, kind, photo(), director=f"d{n}").status_code == 201
    assert client.post(f"/v1/kyc/applications/{app_id}/submit", headers=owner).json["state"] == "submitted"
    return app_id


def test_one_registration_number_verifies_a_second_merchant_only_once_an_officer_links_them(client, auth):
    """G5 for businesses: a second merchant submits a verified merchant's registration number (typed otherwise):
    the officers see the first merchant; the approval is a 409 registration_in_use naming it until the claiming
    officer links them with a reason. A director also on another business is shown (directors_elsewhere), never
    refused; the director's own personal account conflicts with neither."""
    (owner1, mer1), (owner2, mer2) = auth.merchant(), auth.merchant()
    ann, bob = auth.user("compliance"), auth.user("compliance")
    one = submitted_kyb(client, owner1)
    for officer in (ann, bob):
        decide(client, officer, one, "directors/d1/verify")
        assert client.post(f"/v1/admin/kyc/applications/{one}/approve", headers=officer).status_code == 200
    two = submitted_kyb(client, owner2, {**BUSINESS, "registration_number": "PVT.AB12CD3"})
    shown = client.get(f"/v1/admin/kyc/applications/{two}", headers=ann).json
    assert shown["id_shared_with"] == [mer1] and shown["directors_elsewhere"] == {"d1": [mer1]}
    assert [a["directors_elsewhere"] for a in client.get("/v1/kyc", headers=owner2).json["applications"]] == [None]
    decide(client, ann, two, "directors/d1/verify")
    refused = client.post(f"/v1/admin/kyc/applications/{two}/approve", headers=ann)
    assert (refused.status_code, refused.json["code"], refused.json["accounts"]) == (409, "registration_in_use", [mer1])
    linked = client.post(f"/v1/admin/kyc/applications/{two}/link-id", json={"reason": "one company"}, headers=ann)
    assert linked.status_code == 200 and linked.json["id_linked"] == [mer1]
    assert client.post(f"/v1/admin/kyc/applications/{two}/approve", headers=ann).status_code == 200
    director = auth.user("personal")  # Otieno's own wallet, with the ID he gave as a director
    otieno = {**PERSON, "level": 1, "legal_name": "Otieno Odhiambo", "id_number": "12345678"}
    mine = client.post("/v1/kyc/applications", json=otieno, headers=director).json["id"]
    assert client.post(f"/v1/kyc/applications/{mine}/submit", headers=director).status_code == 200
    assert client.get(f"/v1/admin/kyc/applications/{mine}", headers=ann).json["id_shared_with"] == []
    assert decide(client, ann, mine).json["state"] == "approved"
    assert client.get("/v1/kyc", headers=owner2).json["party_id"] == mer2


def test_only_officers_read_documents_and_each_read_is_audited(client, auth, services):
    """A customer gets 403 on the admin routes; an officer reads the photo back byte for byte."""
    customer, officer = auth.user("personal"), auth.user("compliance")
    app_id = client.post("/v1/kyc/applications", json=PERSON, headers=customer).json["id"]
    content = photo(700, 500)
    doc_id = upload(client, customer, app_id, "id_front", content).json["id"]
    path = f"/v1/admin/kyc/applications/{app_id}/documents/{doc_id}"
    assert client.get(path, headers=customer).status_code == 403
    assert client.get(path, headers=auth.user("admin")).status_code == 403
    read = client.get(path, headers=officer)
    assert read.status_code == 200 and base64.b64decode(read.json["content_base64"]) == content
    assert read.headers["Cache-Control"] == "no-store"
    assert client.get(f"/v1/admin/kyc/applications/{app_id}/documents/kyd_nope", headers=officer).status_code == 404


def test_a_merchant_applies_for_kyb_with_a_pdf_certificate(client, auth):
    """A merchant's KYB takes a PDF certificate and needs two officers."""
    owner, merchant_id = auth.merchant()
    created = client.post("/v1/kyc/business-applications", json=BUSINESS, headers=owner)
    assert created.status_code == 201, created.json
    app_id = created.json["id"]
    assert created.json["party_id"] == merchant_id and created.json["business"]["kra_pin"] == "P051234567Q"
    assert upload(client, owner, app_id, "certificate_of_incorporation", pdf()).status_code == 201
    refused = client.post(f"/v1/kyc/applications/{app_id}/submit", headers=owner)
    assert refused.status_code == 409 and "d1:selfie" in refused.json["detail"]
    for kind in ("id_front", "id_back", "selfie"):
        assert upload(client, owner, app_id, kind, photo(), director="d1").status_code == 201
    assert client.post(f"/v1/kyc/applications/{app_id}/submit", headers=owner).json["state"] == "submitted"
    ann, bob = auth.user("compliance"), auth.user("compliance")
    unverified = decide(client, ann, app_id)
    assert unverified.status_code == 409 and "Otieno Odhiambo" in unverified.json["detail"]
    verified = client.post(f"/v1/admin/kyc/applications/{app_id}/directors/d1/verify", headers=ann)
    assert verified.status_code == 200 and verified.json["business"]["directors"][0]["verified"] is True
    assert client.post(f"/v1/admin/kyc/applications/{app_id}/approve", headers=ann).status_code == 200
    decide(client, bob, app_id)
    assert client.get("/v1/kyc", headers=owner).json["tier"] == 1


def test_a_directors_particulars_are_checked_like_anyones(client, auth):
    """A director under 18 is not eligible (403); a bad phone is a 422 naming the director's field; a document for a
    director the application does not have is a 422."""
    owner, _ = auth.merchant()
    minor = {**BUSINESS["directors"][0], "date_of_birth": "2015-01-01"}
    answer = client.post("/v1/kyc/business-applications", json={**BUSINESS, "directors": [minor]}, headers=owner)
    assert answer.status_code == 403 and answer.json["code"] == "not_eligible"
    bad_phone = {**BUSINESS["directors"][0], "phone": "12345"}
    answer = client.post("/v1/kyc/business-applications", json={**BUSINESS, "directors": [bad_phone]}, headers=owner)
    assert answer.status_code == 422 and "directors" in str(answer.json)
    app_id = client.post("/v1/kyc/business-applications", json=BUSINESS, headers=owner).json["id"]
    assert upload(client, owner, app_id, "selfie", photo(), director="d7").status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id_number": "12"}, "id_number"),
        ({"id_type": "passport", "id_number": "ABCDEFG"}, "id_number"),
        ({"date_of_birth": "1990-02-31"}, "date_of_birth"),
        ({"phone": "12345"}, "phone"),
    ],
)
def test_bad_particulars_are_a_422_naming_the_field(client, auth, change, field):
    """Format checks refuse what cannot be a real ID number, a minor's birth date or a non-Kenyan phone."""
    refused = client.post("/v1/kyc/applications", json={**PERSON, **change}, headers=auth.user("personal"))
    assert refused.status_code == 422, refused.json
    assert field in str(refused.json)


def test_a_minor_is_not_eligible(client, auth):
    """An applicant under 18 is refused (403 not_eligible): no application is opened."""
    refused = client.post("/v1/kyc/applications", json={**PERSON, "date_of_birth": "2015-01-01"}, headers=auth.user())
    assert (refused.status_code, refused.json["code"]) == (403, "not_eligible")


def test_a_bad_kra_pin_is_refused(client, auth):
    """The KRA PIN format is checked at the edge."""
    owner, _ = auth.merchant()
    body = {**BUSINESS, "kra_pin": "B051234567Q"}
    assert client.post("/v1/kyc/business-applications", json=body, headers=owner).status_code == 422


def test_a_disguised_upload_is_refused_and_nothing_is_stored(client, auth):
    """A PDF as an ID photo, or bytes that only start like a JPEG, are 422 problems."""
    customer = auth.user("personal")
    app_id = client.post("/v1/kyc/applications", json=PERSON, headers=customer).json["id"]
    assert upload(client, customer, app_id, "id_front", pdf()).json["code"] == "document_rejected"
    assert upload(client, customer, app_id, "selfie", b"\xff\xd8\xff" + b"0" * 100).status_code == 422
    mine = client.get("/v1/kyc", headers=customer).json
    assert mine["applications"][0]["documents"] == []


def test_a_rejection_reaches_the_customer(client, auth, services):
    """The customer sees the reason in their standing and is told by email."""
    customer = auth.user("personal")
    app_id = client.post("/v1/kyc/applications", json={**PERSON, "level": 1}, headers=customer).json["id"]
    client.post(f"/v1/kyc/applications/{app_id}/submit", headers=customer)
    rejected = decide(client, auth.user("compliance"), app_id, "reject", {"reason": "name does not match the ID"})
    assert rejected.json["state"] == "rejected"
    mine = client.get("/v1/kyc", headers=customer).json
    assert mine["status"] == "rejected" and mine["applications"][0]["reason"] == "name does not match the ID"
    assert services.notifier.sent[-1].subject == "Your identity verification was not approved"


def test_an_officer_freezes_and_unfreezes_a_merchant(client, auth, services):
    """Freezing is audited, twice is a 409, an unknown account a 404, and only officers may do it, each time with
    a fresh step-up (a one-time code), as the console asks: without one it is a 403 step_up_required, audited
    access.refused, and the account stays as it was (a leaked officer token alone releases nothing)."""
    _, merchant_id = auth.merchant()
    session, codes = auth.staff("compliance")
    path = f"/v1/admin/accounts/{merchant_id}"
    assert client.post(f"{path}/freeze", json={"reason": "x"}, headers=auth.user("admin")).status_code == 403
    bare = client.post(f"{path}/freeze", json={"reason": "sanctions match under review"}, headers=session)
    assert bare.status_code == 403 and bare.json["code"] == "step_up_required"
    assert bare.headers["Content-Type"] == "application/problem+json"
    officer = auth.stepped_up(session, code=codes[0])
    frozen = client.post(f"{path}/freeze", json={"reason": "sanctions match under review"}, headers=officer)
    assert frozen.status_code == 200, frozen.json
    assert (frozen.json["state"], frozen.json["kind"], frozen.json["freeze_reason"]) == (
        "frozen",
        "merchant",
        "sanctions match under review",
    )
    assert client.post(f"{path}/freeze", json={"reason": "again"}, headers=officer).status_code == 409
    unstepped = client.post(f"{path}/unfreeze", headers=session)
    assert unstepped.status_code == 403 and unstepped.json["code"] == "step_up_required"
    refusals = [dict(r.details) for r in services.audit.records() if r.action == "access.refused"]
    assert [(d["method"], d["reason"]) for d in refusals[-2:]] == [("POST", "step_up_required")] * 2
    assert client.post(f"{path}/unfreeze", headers=officer).json["state"] == "active"
    assert client.post(f"{path}/unfreeze", headers=officer).status_code == 409
    assert client.post("/v1/admin/accounts/mer_nobody/freeze", json={"reason": "x"}, headers=officer).status_code == 404


def test_an_approval_without_reading_the_documents_is_a_409_naming_what_is_unread(client, auth, services):
    """Finding I9: claim + approve with no read is refused ``documents_not_reviewed`` (the problem lists what this
    officer has still to open); once the officer read the particulars and each photo, the approval counts."""
    customer, ann = auth.user("personal"), auth.user("compliance")
    app_id = client.post("/v1/kyc/applications", json=PERSON, headers=customer).json["id"]
    for kind in ("id_front", "id_back", "selfie"):
        assert upload(client, customer, app_id, kind, photo()).status_code == 201
    assert client.post(f"/v1/kyc/applications/{app_id}/submit", headers=customer).status_code == 200
    assert client.post(f"/v1/admin/kyc/applications/{app_id}/claim", headers=ann).status_code == 200
    refused = client.post(f"/v1/admin/kyc/applications/{app_id}/approve", headers=ann)
    assert (refused.status_code, refused.json["code"]) == (409, "documents_not_reviewed"), refused.json
    assert refused.json["unread"] == ["application", "id_front", "id_back", "selfie"]
    assert client.get(f"/v1/admin/kyc/applications/{app_id}", headers=ann).json["approvals"] == 0
    read_everything(client, ann, app_id)
    approved = client.post(f"/v1/admin/kyc/applications/{app_id}/approve", headers=ann)
    assert approved.status_code == 200 and approved.json["approvals"] == 1
