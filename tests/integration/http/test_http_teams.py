"""Merchant teams over HTTP: invitations by email, roles checked on the merchant routes, the owner protected."""

from __future__ import annotations

import re

from tests.integration.http.http_support import PASSWORD, bearer


def _token(services, email: str) -> str:
    [mail] = [
        m for m in services.notifier.sent_to(email) if m.subject == "An invitation to a merchant team on cryptopay"
    ]
    found = re.search(r"\n\n(\S+)\n", mail.body)
    assert found, mail.body
    return found.group(1)


def join(client, auth, services, owner, email: str, role: str) -> dict[str, str]:
    """Invite ``email`` as ``role`` (with the owner's step-up: admin and finance need one); it registers as a
    merchant user, proves its email and accepts; its headers."""
    body = {"email": email, "role": role}
    invited = client.post("/v1/merchants/me/invitations", json=body, headers=auth.stepped_up(owner))
    assert invited.status_code == 201, invited.json
    auth.register(email, "merchant")
    headers = bearer(auth.login(email)["access_token"])
    auth.prove_email(email, headers)
    accepted = client.post("/v1/invitations/accept", json={"token": _token(services, email)}, headers=headers)
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["role"] == role
    return headers


def test_an_invited_member_acts_for_the_merchant_within_its_role(client, auth, services):
    """Finance reads settlements and reports but creates no API key; staff reads invoices only; all audited."""
    owner, merchant_id = auth.merchant()
    finance = join(client, auth, services, owner, "wanjiku@duka.co.ke", "finance")
    staff = join(client, auth, services, owner, "otieno@duka.co.ke", "staff")
    members = client.get("/v1/merchants/me/members", headers=finance).json["members"]
    assert [m["role"] for m in members] == ["owner", "finance", "staff"]
    assert client.get(f"/v1/merchants/{merchant_id}", headers=finance).status_code == 200
    key = client.post(
        f"/v1/merchants/{merchant_id}/api-keys",
        json={"name": "x", "scopes": ["invoices:read"]},
        headers=auth.stepped_up(finance),
    )
    assert key.status_code == 403
    assert client.get(f"/v1/merchants/{merchant_id}", headers=staff).status_code == 403
    assert client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": "X"}, headers=finance).status_code == 403
    refused = client.post("/v1/merchants/me/invitations", json={"email": "a@b.co", "role": "admin"}, headers=staff)
    assert refused.status_code == 403
    actions = {record.action for record in services.audit.records()}
    assert {"team.invite", "team.join"} <= actions
    invited = [dict(r.details) for r in services.audit.records() if r.action == "team.invite"]
    assert invited and all("email" not in d and d["invitation"].startswith("inv") for d in invited)  # no PII


def test_the_owner_cannot_be_removed_or_demoted_and_hands_over_with_a_step_up(client, auth, services):
    """Removing or demoting the owner is a conflict (409); a transfer makes the member owner and the old owner an admin."""
    owner, _ = auth.merchant()
    admin = join(client, auth, services, owner, "achieng@duka.co.ke", "admin")
    members = client.get("/v1/merchants/me/members", headers=owner).json["members"]
    owner_id, admin_id = members[0]["user_id"], members[1]["user_id"]
    assert client.delete(f"/v1/merchants/me/members/{owner_id}", headers=admin).status_code == 409
    demote = client.patch(f"/v1/merchants/me/members/{owner_id}", json={"role": "staff"}, headers=admin)
    assert demote.status_code == 409
    assert client.post("/v1/merchants/me/owner", json={"user_id": admin_id}, headers=admin).status_code == 403
    assert client.post("/v1/merchants/me/owner", json={"user_id": admin_id}, headers=owner).status_code == 403
    moved = client.post("/v1/merchants/me/owner", json={"user_id": admin_id}, headers=auth.stepped_up(owner))
    assert moved.status_code == 200, moved.json
    assert [(m["user_id"], m["role"]) for m in moved.json["members"]] == [(admin_id, "owner"), (owner_id, "admin")]
    assert client.delete(f"/v1/merchants/me/members/{owner_id}", headers=admin).status_code == 204
    assert client.get("/v1/merchants/me/members", headers=owner).status_code == 403  # no longer in any team


def test_an_invitation_works_once_for_its_address_and_expires(client, auth, services, clock):
    """Another address, a second use, a revoked or an expired invitation: refused; a member cannot make a merchant."""
    owner, _ = auth.merchant()
    client.post("/v1/merchants/me/invitations", json={"email": "njeri@duka.co.ke", "role": "staff"}, headers=owner)
    token = _token(services, "njeri@duka.co.ke")
    other = auth.user("merchant")
    assert client.post("/v1/invitations/accept", json={"token": token}, headers=other).status_code == 403
    auth.register("njeri@duka.co.ke", "merchant")
    njeri = bearer(auth.login("njeri@duka.co.ke", PASSWORD)["access_token"])
    assert client.post("/v1/invitations/accept", json={"token": token}, headers=njeri).status_code == 200
    assert client.post("/v1/invitations/accept", json={"token": token}, headers=njeri).status_code == 409
    auth.prove_email("njeri@duka.co.ke", njeri)  # else 403 email_unverified before the 409
    body = {
        "business_name": "Mine",
        "settlement": {"schedule": "daily", "method": "mpesa_b2c", "destination": "0712345678"},
    }
    assert client.post("/v1/merchants", json=body, headers=njeri).status_code == 409
    client.post("/v1/merchants/me/invitations", json={"email": "late@duka.co.ke", "role": "staff"}, headers=owner)
    late = _token(services, "late@duka.co.ke")
    listed = client.get("/v1/merchants/me/invitations", headers=owner).json["data"]
    assert [i["email"] for i in listed] == ["late@duka.co.ke", "njeri@duka.co.ke"] and listed[1]["accepted_at"]
    first = client.get("/v1/merchants/me/invitations?limit=1", headers=owner).json  # review R20: the list shape
    assert [i["email"] for i in first["data"]] == ["late@duka.co.ke"] and first["next_cursor"]
    rest = client.get(f"/v1/merchants/me/invitations?limit=1&cursor={first['next_cursor']}", headers=owner).json
    assert [i["email"] for i in rest["data"]] == ["njeri@duka.co.ke"] and rest["next_cursor"] is None
    clock.advance(days=8)
    auth.register("late@duka.co.ke", "merchant")
    late_headers = bearer(auth.login("late@duka.co.ke")["access_token"])
    assert client.post("/v1/invitations/accept", json={"token": late}, headers=late_headers).status_code == 409


def test_giving_admin_or_finance_needs_a_step_up_and_staff_does_not(client, auth, services):
    """A session without a fresh step-up cannot invite an admin or finance, nor promote a member to either (403
    step_up_required, audited access.refused): a stolen token must not make itself a lasting login of its own."""
    owner, _ = auth.merchant()
    for role in ("admin", "finance"):
        refused = client.post(
            "/v1/merchants/me/invitations", json={"email": "evil@x.example", "role": role}, headers=owner
        )
        assert refused.status_code == 403 and refused.json["code"] == "step_up_required", refused.json
        assert refused.content_type == "application/problem+json"
    assert client.get("/v1/merchants/me/invitations", headers=owner).json["data"] == []
    assert services.notifier.sent_to("evil@x.example") == []
    staff = client.post("/v1/merchants/me/invitations", json={"email": "s@duka.co.ke", "role": "staff"}, headers=owner)
    assert staff.status_code == 201
    join(client, auth, services, owner, "m@duka.co.ke", "staff")
    member_id = services.users.by_email("m@duka.co.ke").id
    path = f"/v1/merchants/me/members/{member_id}"
    promoted = client.patch(path, json={"role": "admin"}, headers=owner)
    assert promoted.status_code == 403 and promoted.json["code"] == "step_up_required"
    assert [m["role"] for m in client.get("/v1/merchants/me/members", headers=owner).json["members"]] == [
        "owner",
        "staff",
    ]
    refusals = [r for r in services.audit.records() if r.action == "access.refused"]
    assert [dict(r.details)["reason"] for r in refusals] == ["step_up_required"] * 3
    assert refusals[-1].subject == "route:/v1/merchants/me/members/<user_id>"
    assert client.patch(path, json={"role": "admin"}, headers=auth.stepped_up(owner)).json["role"] == "admin"
    invited = client.post(
        "/v1/merchants/me/invitations", json={"email": "a@duka.co.ke", "role": "admin"}, headers=auth.stepped_up(owner)
    )
    assert invited.status_code == 201 and invited.json["role"] == "admin"
    changes = [dict(r.details) for r in services.audit.records() if r.action == "team.role_changed"]
    assert changes[-1]["after"] == "admin"


def test_accepting_with_the_password_proves_the_invited_email(client, auth, services):
    """An unproven account accepting its invitation with its password typed again is proven (``email_proven``,
    audited auth.email_proven via invitation): as an admin it creates API keys without a 403 email_unverified. The
    invitation's answer never carries the token: it went by email only."""
    owner, merchant_id = auth.merchant()
    body = {"email": "achieng@duka.co.ke", "role": "admin"}
    invited = client.post("/v1/merchants/me/invitations", json=body, headers=auth.stepped_up(owner))
    token = _token(services, "achieng@duka.co.ke")
    assert token not in invited.get_data(as_text=True) and "token" not in invited.json
    auth.register("achieng@duka.co.ke", "merchant")
    achieng = bearer(auth.login("achieng@duka.co.ke")["access_token"])
    accepted = client.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD}, headers=achieng)
    assert accepted.status_code == 200, accepted.json
    assert (accepted.json["role"], accepted.json["email_proven"]) == ("admin", True)
    user = services.users.by_email("achieng@duka.co.ke")
    assert user.email_verified_at is not None and user.email_token_hash is None  # the emailed link is spent
    [proof] = [r for r in services.audit.records() if r.action == "auth.email_proven"][-1:]
    assert proof.subject == f"user:{user.id}" and dict(proof.details)["via"] == "invitation"
    key = {"name": "till", "scopes": ["invoices:read"]}
    made = client.post(f"/v1/merchants/{merchant_id}/api-keys", json=key, headers=auth.stepped_up(achieng))
    assert made.status_code == 201, made.json


def test_an_invitation_proves_nothing_for_another_address_a_wrong_password_or_no_password(client, auth, services):
    """Another account (whatever its password) is refused 403 and stays unproven; the invited account with a wrong
    password is refused 403 step_up_required (audited auth.email_proof_failed) and nothing changes: no member, the
    invitation still open; without a password it joins and stays unproven (``email_proven`` false)."""
    owner, _ = auth.merchant()
    client.post("/v1/merchants/me/invitations", json={"email": "njeri@duka.co.ke", "role": "staff"}, headers=owner)
    token = _token(services, "njeri@duka.co.ke")
    auth.register("squatter@evil.example", "merchant")
    squatter = bearer(auth.login("squatter@evil.example")["access_token"])
    refused = client.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD}, headers=squatter)
    assert (refused.status_code, refused.json["code"]) == (403, "forbidden")
    assert services.users.by_email("squatter@evil.example").email_verified_at is None
    auth.register("njeri@duka.co.ke", "merchant")
    njeri = bearer(auth.login("njeri@duka.co.ke")["access_token"])
    wrong = client.post("/v1/invitations/accept", json={"token": token, "password": "not it at all"}, headers=njeri)
    assert (wrong.status_code, wrong.json["code"]) == (403, "step_up_required"), wrong.json
    njeri_id = services.users.by_email("njeri@duka.co.ke").id
    failed = [r for r in services.audit.records() if r.action == "auth.email_proof_failed"]
    assert [(r.subject, dict(r.details)["via"]) for r in failed] == [(f"user:{njeri_id}", "invitation")]
    assert [m["role"] for m in client.get("/v1/merchants/me/members", headers=owner).json["members"]] == ["owner"]
    [listed] = client.get("/v1/merchants/me/invitations", headers=owner).json["data"]
    assert listed["accepted_at"] is None
    joined = client.post("/v1/invitations/accept", json={"token": token}, headers=njeri)
    assert (joined.status_code, joined.json["email_proven"]) == (200, False)
    assert services.users.by_email("njeri@duka.co.ke").email_verified_at is None
    proofs = [r for r in services.audit.records() if r.action == "auth.email_proven"]
    assert f"user:{njeri_id}" not in [r.subject for r in proofs]
