"""A team's roles reach the KYB and the API keys: finance and staff neither file the KYB nor read the directors'
particulars, and a key lives no longer than its creator's right to mint keys (removed or demoted: revoked at once)."""

from __future__ import annotations

from tests.integration.http.test_http_kyc import BUSINESS
from tests.integration.http.test_http_teams import join

DIRECTOR = BUSINESS["directors"][0]
PARTICULARS = ("id_number", "date_of_birth", "phone", "address")


def _members(client, owner) -> dict[str, str]:
    return {m["role"]: m["user_id"] for m in client.get("/v1/merchants/me/members", headers=owner).json["members"]}


def test_only_the_owner_and_admins_file_the_kyb_and_read_the_directors_particulars(client, auth, services):
    """Staff and finance get 403 on applying, uploading and submitting; their read of /v1/kyc masks each director's
    ID number, date of birth, phone and address (name and verification stay); an admin files and reads them all."""
    owner, _ = auth.merchant()
    finance = join(client, auth, services, owner, "wanjiku@duka.co.ke", "finance")
    staff = join(client, auth, services, owner, "otieno@duka.co.ke", "staff")
    admin = join(client, auth, services, owner, "achieng@duka.co.ke", "admin")
    for member in (staff, finance):
        refused = client.post("/v1/kyc/business-applications", json=BUSINESS, headers=member)
        assert refused.status_code == 403, refused.json
        assert refused.content_type == "application/problem+json"
    assert client.get("/v1/kyc", headers=owner).json["applications"] == []  # the refusals stored nothing
    created = client.post("/v1/kyc/business-applications", json=BUSINESS, headers=admin)
    assert created.status_code == 201, created.json
    app_id = created.json["id"]
    for member in (staff, finance):
        upload = {"kind": "certificate_of_incorporation", "content_base64": "JVBERi0xLjQK"}
        path = f"/v1/kyc/applications/{app_id}"
        assert client.post(f"{path}/documents", json=upload, headers=member).status_code == 403
        assert client.post(f"{path}/submit", headers=member).status_code == 403
        [seen] = client.get("/v1/kyc", headers=member).json["applications"][0]["business"]["directors"]
        assert seen["name"] == DIRECTOR["name"] and seen["verified"] is False
        assert all(seen[field] is None for field in PARTICULARS), seen
        assert DIRECTOR["date_of_birth"] not in client.get("/v1/kyc", headers=member).get_data(as_text=True)
    for manager in (owner, admin):
        [full] = client.get("/v1/kyc", headers=manager).json["applications"][0]["business"]["directors"]
        assert full["id_number"] == DIRECTOR["id_number"] and full["date_of_birth"] == DIRECTOR["date_of_birth"]


def _key(client, auth, headers, merchant_id: str) -> tuple[str, str]:
    body = {"name": "till", "scopes": ["invoices:read", "refunds:write", "payouts:read"]}
    made = client.post(f"/v1/merchants/{merchant_id}/api-keys", json=body, headers=auth.stepped_up(headers))
    assert made.status_code == 201, made.json
    return made.json["key"]["id"], made.json["secret"]


def test_a_removed_admins_keys_stop_working_at_once_and_the_owners_stay(client, auth, services):
    """The key list names each key's creator; removing the admin revokes the keys they minted (audited), not the
    owner's; demoting another admin to finance revokes theirs too."""
    owner, merchant_id = auth.merchant()
    admin = join(client, auth, services, owner, "achieng@duka.co.ke", "admin")
    admin_id = _members(client, owner)["admin"]
    admin_key, admin_secret = _key(client, auth, admin, merchant_id)
    _, owner_secret = _key(client, auth, owner, merchant_id)
    listed = client.get(f"/v1/merchants/{merchant_id}/api-keys", headers=owner).json["data"]
    assert {k["id"]: k["created_by"] for k in listed}[admin_key] == admin_id
    as_key = {"X-Api-Key": admin_secret}
    assert client.get("/v1/invoices", headers=as_key).status_code == 200
    assert client.delete(f"/v1/merchants/me/members/{admin_id}", headers=owner).status_code == 204
    assert client.get("/v1/invoices", headers=as_key).status_code == 401
    assert client.get("/v1/invoices", headers={"X-Api-Key": owner_secret}).status_code == 200
    revoked = [r for r in services.audit.records() if r.action == "api_key.revoked"]
    assert [(r.subject, dict(r.details)["reason"], dict(r.details)["creator"]) for r in revoked] == [
        (f"api_key:{admin_key}", "member_removed", admin_id)
    ]
    second = join(client, auth, services, owner, "njeri@duka.co.ke", "admin")
    second_id = _members(client, owner)["admin"]
    _, second_secret = _key(client, auth, second, merchant_id)
    path = f"/v1/merchants/me/members/{second_id}"
    patched = client.patch(path, json={"role": "finance"}, headers=auth.stepped_up(owner))  # finance: a step-up
    assert patched.status_code == 200, patched.json
    assert client.get("/v1/invoices", headers={"X-Api-Key": second_secret}).status_code == 401
    listed = client.get(f"/v1/merchants/{merchant_id}/api-keys", headers=owner).json["data"]
    assert sorted(k["revoked_at"] is None for k in listed) == [False, False, True]


def test_invitation_ids_are_told_apart_from_invoices_and_old_ones_still_work(client, auth, services):
    """A new invitation's id starts ``invite_`` (an invoice's ``inv_``); one stored before, ``inv_...``, is still
    listed and revoked by its id."""
    from datetime import timedelta

    from cryptopay.core.identity.model import TeamRole
    from cryptopay.core.identity.teams import Invitation

    owner, merchant_id = auth.merchant()
    made = client.post("/v1/merchants/me/invitations", json={"email": "new@duka.co.ke", "role": "staff"}, headers=owner)
    assert made.status_code == 201 and made.json["id"].startswith("invite_"), made.json
    now = services.clock.now()
    old = Invitation(
        id="inv_01OLDINVITATION0000000000",
        merchant_id=merchant_id,
        email="old@duka.co.ke",
        role=TeamRole.STAFF,
        token_hash="0" * 64,
        created_at=now,
        expires_at=now + timedelta(days=7),
        invited_by="usr_owner",
    )
    services.team_store.add_invitation(old)
    listed = client.get("/v1/merchants/me/invitations", headers=owner).json
    assert old.id in str(listed)
    assert client.delete(f"/v1/merchants/me/invitations/{old.id}", headers=owner).status_code in (200, 204)
    assert services.team_store.invitation(old.id).revoked_at is not None
