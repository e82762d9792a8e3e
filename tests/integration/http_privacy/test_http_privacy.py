"""A data subject's export over REST: the person's own (with a fresh step-up, and the person told by email), and an
officer's (role ``compliance``), each audited; and closing a merchant (staff, with a step-up), which starts its
retention period."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.ledger import Ledger
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.testing.deposits import InMemoryWalletDeposits
from cryptopay.core.testing.identity import InMemoryMerchants, InMemoryRefreshTokens, InMemoryUsers
from cryptopay.core.testing.kyc import InMemoryKycApplications, InMemoryKycProfiles
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.payments import payments_storage
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.testing.wallets import InMemoryBuys, InMemoryTransfers, InMemoryWallets
from cryptopay.core.testing.withdrawals import InMemoryWithdrawals
from cryptopay_http import Services

from tests.integration.http.http_support import app as app
from tests.integration.http.http_support import auth as auth
from tests.integration.http.http_support import client as client
from tests.integration.http.http_support import fast_hasher
from tests.support.services import in_memory_services


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def storage() -> InMemoryStorage:
    """One store the identity routes and the export share (the same users and sessions)."""
    return payments_storage(
        users=InMemoryUsers(),
        merchants=InMemoryMerchants(),  # the export reads the KYB of the merchant a person owns
        refresh_tokens=InMemoryRefreshTokens(),
        kyc=InMemoryKycProfiles(),
        kyc_applications=InMemoryKycApplications(),
        wallets=InMemoryWallets(),
        wallet_transfers=InMemoryTransfers(),
        wallet_buys=InMemoryBuys(),
        wallet_deposits=InMemoryWalletDeposits(),
        withdrawals=InMemoryWithdrawals(),
    )


@pytest.fixture
def services(clock: ManualClock, storage: InMemoryStorage) -> Iterator[Services]:
    base = in_memory_services(clock=clock, ids=SequentialIds(), hasher=fast_hasher())
    repos = storage.repositories
    ledger = Ledger(InMemoryLedgerStore(), clock=clock)
    exports = SubjectExports(storage.unit_of_work, ledger, clock, base.notifier)
    yield attrs.evolve(
        base,
        users=ready(repos["users"]),
        refresh_tokens=ready(repos["refresh_tokens"]),
        subject_exports=ready(exports),
    )


def _privacy_records(storage: InMemoryStorage) -> list[tuple[str, str, str, dict[str, str]]]:
    return [(r.actor, r.action, r.subject, dict(r.details)) for r in storage.audit_records()]


_NOTICE = "A copy of your cryptopay data was downloaded"


@pytest.mark.parametrize("role", ["personal", "merchant"])
def test_a_person_downloads_their_own_data_after_a_step_up_and_is_told(client, auth, storage, services, role):
    """``/v1/me/export`` is the caller's profile and sessions, never cached, no secret in it, audited, and the person
    is told by email that an export was made (review H17)."""
    headers = auth.stepped_up(auth.user(role))
    response = client.get("/v1/me/export", headers=headers)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = response.json
    subject = body["subject"]
    assert body["profile"]["id"] == subject and body["profile"]["email"].startswith(role)
    assert len(body["sessions"]) == 1 and "token_hash" not in body["sessions"][0]
    assert "password_hash" not in response.get_data(as_text=True)
    assert _privacy_records(storage) == [
        (f"user:{subject}", "privacy.exported", f"user:{subject}", {}),
        ("system:notify", "privacy.export_notified", f"user:{subject}", {"channel": "email", "outcome": "sent"}),
    ]
    told = [n for n in services.notifier.sent if n.subject == _NOTICE]
    assert [n.to for n in told] == [body["profile"]["email"]] and "Not you?" in told[0].body


@pytest.mark.parametrize("role", ["personal", "merchant"])
def test_a_stolen_access_token_alone_gets_no_export(client, auth, storage, services, role):
    """Without a step-up (or with a made-up one) the export is a 403 ``step_up_required`` problem, audited as a
    refusal; nothing is exported and nobody is told."""
    headers = auth.user(role)
    for extra in ({}, {"X-Step-Up-Token": "not-a-token"}):
        refused = client.get("/v1/me/export", headers={**headers, **extra})
        assert refused.status_code in (401, 403) and refused.headers["Content-Type"] == "application/problem+json"
    bare = client.get("/v1/me/export", headers=headers)
    assert bare.status_code == 403 and bare.json["type"].endswith("step_up_required")
    assert not [r for r in _privacy_records(storage) if r[1].startswith("privacy.")]
    refusals = [r for r in services.audit.records() if r.action == "access.refused"]
    assert refusals and {dict(r.details)["reason"] for r in refusals} == {"step_up_required"}
    assert not [n for n in services.notifier.sent if n.subject == _NOTICE]


def test_the_export_documents_its_step_up(client):
    """The OpenAPI document says the export needs ``X-Step-Up-Token`` and may answer 403."""
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/v1/me/export"]["get"]
    assert any(p.get("name") == "X-Step-Up-Token" and p.get("required") for p in operation.get("parameters", []))
    assert "403" in operation["responses"]


def test_an_officer_looks_up_and_exports_a_person_and_both_are_audited(client, auth, storage):
    """Officers find a person by email and export them with a reason; others get 403; unknown people 404."""
    person = auth.stepped_up(auth.user("personal"))
    subject = client.get("/v1/me/export", headers=person).json["subject"]
    email = client.get("/v1/me/export", headers=person).json["profile"]["email"]
    officer = auth.user("compliance")
    assert client.get(f"/v1/admin/privacy/subjects?who={email}", headers=person).status_code == 403
    assert client.get(f"/v1/admin/privacy/subjects/{subject}/export", headers=person).status_code == 403
    assert client.get("/v1/admin/privacy/subjects?who=nobody@example.com", headers=officer).status_code == 404
    assert client.get("/v1/admin/privacy/subjects", headers=officer).status_code == 422
    found = client.get(f"/v1/admin/privacy/subjects?who={email}", headers=officer)
    assert found.status_code == 200 and found.json == {"id": subject, "role": "personal", "disabled_at": None}
    exported = client.get(f"/v1/admin/privacy/subjects/{subject}/export?reason=request+by+post", headers=officer)
    assert exported.status_code == 200 and exported.json["profile"]["email"] == email
    officer_records = [r for r in _privacy_records(storage) if r[0] not in (f"user:{subject}", "system:notify")]
    actor = officer_records[0][0]
    assert actor.startswith("user:") and officer_records == [
        (actor, "privacy.subject_looked_up", f"user:{subject}", {}),
        (actor, "privacy.exported", f"user:{subject}", {"reason": "request by post"}),
    ]


@pytest.mark.parametrize("role", ["admin", "compliance"])
def test_staff_close_a_merchant_with_a_reason_and_a_step_up(client, auth, services, role):
    """Closing starts the retention period once (audited with the reason); it needs staff, a step-up and a reason;
    an unknown merchant is 404; nothing changes on a refusal."""
    owner, merchant_id = auth.merchant()
    staff, codes = auth.staff(role)
    url = f"/v1/admin/merchants/{merchant_id}/close"
    body = {"reason": "contract ended by the merchant"}
    stepped = auth.stepped_up(staff, code=codes[0])
    assert client.post(url, json=body, headers=auth.stepped_up(owner)).status_code == 403  # not staff
    refused = client.post(url, json=body, headers=staff)  # no step-up
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert client.post(url, json={"reason": ""}, headers=stepped).status_code == 422
    assert client.post(url, json={}, headers=stepped).status_code == 422
    assert client.post(url, json={"reason": "   "}, headers=stepped).status_code == 422
    assert services.merchants.get(merchant_id).closed_at is None
    missing = client.post("/v1/admin/merchants/mer_nobody/close", json=body, headers=stepped)
    assert missing.status_code == 404 and missing.json["type"].endswith("not_found")
    closed = client.post(url, json=body, headers=stepped)
    assert closed.status_code == 200, closed.json
    assert closed.json["id"] == merchant_id and services.merchants.get(merchant_id).closed_at is not None
    again = client.post(url, json={"reason": "a second time"}, headers=stepped)
    assert again.status_code == 200 and again.json["closed_at"] == closed.json["closed_at"]
    records = [r for r in services.audit.records() if r.action == "merchant.closed"]
    assert [(r.subject, dict(r.details)) for r in records] == [
        (f"merchant:{merchant_id}", {"reason": "contract ended by the merchant"})
    ]


def test_an_officers_own_export_says_what_they_did_but_not_to_whom(client, auth, storage):
    """An officer's own ``/v1/me/export`` keeps their lookups and exports of other people as facts (what, when), but
    not whom (the target, details and hashes): records they are only the actor of name another person."""
    person = auth.stepped_up(auth.user("personal"))
    mine = client.get("/v1/me/export", headers=person).json
    subject, email = mine["subject"], mine["profile"]["email"]
    officer, codes = auth.staff("compliance")
    assert client.get(f"/v1/admin/privacy/subjects?who={email}", headers=officer).status_code == 200
    url = f"/v1/admin/privacy/subjects/{subject}/export?reason=request+by+post"
    assert client.get(url, headers=officer).status_code == 200
    own = client.get("/v1/me/export", headers=auth.stepped_up(officer, code=codes[0]))
    assert own.status_code == 200, own.json
    text = own.get_data(as_text=True)
    assert subject not in text and email not in text and "request by post" not in text
    done = [r for r in own.json["audit"] if r["action"] in ("privacy.subject_looked_up", "privacy.exported")]
    assert [(r["action"], "subject" in r, "details" in r) for r in done] == [
        ("privacy.subject_looked_up", False, False),
        ("privacy.exported", False, False),
    ]
    assert all(r["actor"] == f"user:{own.json['subject']}" and r["at"] for r in done)
