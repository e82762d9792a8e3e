"""The admin console's officer pages: the KYC queue with four-eyes and the document viewer, AML alerts and cases
with the STR download, accounts (freeze with a one-time code, roles), reconciliation, treasury and health.

Each page is for the role its REST twin needs, every form needs its CSRF token, and every officer action lands in
the audit log through the use case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.identity import Role
from cryptopay.core.money import KES, Money
from cryptopay.core.system import NAIROBI
from cryptopay.core.testing.identity import StdlibTotp
from cryptopay.core.testing.system import ManualClock
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, AuthActions, bearer, make_app
from tests.integration.http.test_http_kyc import BUSINESS, PERSON, upload
from tests.integration.web.test_dashboard_pages import _csrf
from tests.support.kyc_rig import pdf, photo
from tests.support.mailbox import link_token


class Staff:
    """A staff member logged in on the console in their own browser (a test client), with their TOTP secret."""

    def __init__(self, app: Flask, auth: AuthActions, email: str, role: Role) -> None:
        self.app, self.email = app, email
        runtime = app.extensions["cryptopay"]
        # a staff account's name: an STR's reporting person (R14-5)
        runtime.accounts.register(email, PASSWORD, role=role, display_name=f"{email.split('@')[0].title()} Wambui")
        headers = bearer(auth.login(email)["access_token"])
        enrolment = auth.client.post("/v1/auth/2fa/enrol", headers=auth.stepped_up(headers))
        self.secret = enrolment.json["secret"]
        confirmed = auth.client.post("/v1/auth/2fa/confirm", json={"code": self.code()}, headers=headers)
        recovery = confirmed.json["recovery_codes"]
        self.id = runtime.services.users.by_email(email).id
        self.client = app.test_client()
        form = self.client.get("/dashboard/login").get_data(as_text=True)
        body = {"email": email, "password": PASSWORD, "csrf_token": _csrf(form), "code": recovery[0]}
        assert self.client.post("/dashboard/login", data={**body, "next": "/console/"}).status_code == 303

    def code(self) -> str:
        """The one-time code of the next time step (a code is accepted once; the clock moves on)."""
        clock = self.app.extensions["cryptopay"].services.clock
        if isinstance(clock, ManualClock):
            clock.advance(seconds=31)
        return StdlibTotp().code_at(self.secret, int(clock.now().timestamp()))

    def get(self, path: str) -> tuple[int, str]:
        answer = self.client.get(path)
        return answer.status_code, answer.get_data(as_text=True)

    def post(self, path: str, page: str, **form: str) -> tuple[int, str, str | None]:
        """Post a form of ``page`` (with its CSRF token); status, body and the redirect."""
        token = _csrf(self.client.get(page).get_data(as_text=True))
        answer = self.client.post(path, data={"csrf_token": token, **form})
        return answer.status_code, answer.get_data(as_text=True), answer.headers.get("Location")


def _audited(services, action: str) -> list:
    """The records of ``action`` in the KYC, monitoring and identity audit logs the in-memory stack keeps apart."""
    logs = [services.audit]
    for uow in (services.kyc_review.uow, services.monitoring.uow):
        with uow() as opened:
            logs.append(opened.audit)
    return [r for log in logs for r in log.records() if r.action == action]


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.COMPLIANCE)


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.COMPLIANCE)


@pytest.fixture
def chief(app, auth) -> Staff:
    return Staff(app, auth, "chief@cryptopay.example", Role.ADMIN)


def _application(client: FlaskClient, auth: AuthActions) -> tuple[str, str]:
    """A customer's submitted tier-2 application (two officers needed) and its selfie's document id."""
    customer = auth.user("personal")
    app_id = client.post("/v1/kyc/applications", json=PERSON, headers=customer).json["id"]
    ids = {
        kind: upload(client, customer, app_id, kind, photo()).json["id"] for kind in ("id_front", "id_back", "selfie")
    }
    assert client.post(f"/v1/kyc/applications/{app_id}/submit", headers=customer).status_code == 200
    return app_id, ids["selfie"]


def test_two_officers_approve_a_kyc_and_the_same_officer_cannot_give_both(client, auth, services, ann, bob):
    """Ann claims and approves (1 of 2); her second approval is refused with 409; Bob's approval grants the tier."""
    app_id, _ = _application(client, auth)
    status, queue = ann.get("/console/kyc")
    assert status == 200 and app_id in queue and "0/2" in queue
    detail = f"/console/kyc/{app_id}"
    status, html = ann.get(detail)
    assert status == 200 and "Wanjiku Kamau" in html and "23456789" in html
    assert "<dd>+254 712 345 678</dd>" in html  # the applicant's phone as every page writes numbers
    assert ann.post(f"{detail}/claim", detail)[2] == detail
    assert _approve(ann, detail)[2] == detail
    status, html = ann.get(detail)
    assert "1/2" in html and "a second officer must give the next one" in html
    status, html, _ = ann.post(f"{detail}/claim", detail)
    assert status == 409 and 'role="alert"' in html
    assert bob.post(f"{detail}/claim", detail)[0] == 303
    assert _approve(bob, detail)[0] == 303
    assert services.kyc_review.standing(_party(services, app_id)).profile.level == 2
    approvals = _audited(services, "kyc.application_approved") + _audited(services, "kyc.approval_recorded")
    assert {r.actor for r in approvals} >= {f"user:{bob.id}"}
    assert {r.actor for r in _audited(services, "kyc.application_viewed")} == {f"user:{ann.id}", f"user:{bob.id}"}


def _read(officer, page: str) -> None:
    """What an officer does on the review page before deciding: read it, open each document's viewer, whose
    picture (or PDF link) is the document's content: each read audited, as approving requires (finding I9)."""
    status, html = officer.get(page)
    assert status == 200
    for viewer in dict.fromkeys(re.findall(rf'href="({re.escape(page)}/documents/[^"/]+)"', html)):
        status, shown = officer.get(viewer)
        assert status == 200 and f"{viewer}/content" in shown
        assert officer.client.get(f"{viewer}/content").status_code == 200


def _approve(officer, page: str) -> tuple[int, str, str]:
    """Read everything on the page, then approve."""
    _read(officer, page)
    return officer.post(f"{page}/approve", page)


def _party(services, app_id: str) -> str:
    with services.kyc_review.uow() as uow:
        return uow.kyc_applications.get(app_id).party_id


def test_an_approval_before_opening_every_document_is_refused_on_the_page(client, auth, services, ann):
    """Finding I9: the console refuses an approval (409, in the page's alert) until this officer opened the
    application and each document; opening them from the page is what records the reads."""
    app_id, selfie = _application(client, auth)
    detail = f"/console/kyc/{app_id}"
    ann.get(detail)
    assert ann.post(f"{detail}/claim", detail)[2] == detail
    status, html, _ = ann.post(f"{detail}/approve", detail)
    assert status == 409 and 'role="alert"' in html and "id_front" in html
    assert not _audited(services, "kyc.approval_recorded") and not _audited(services, "kyc.application_approved")
    assert _approve(ann, detail)[0] == 303
    viewed = {dict(r.details)["document"] for r in _audited(services, "kyc.document_viewed")}
    assert selfie in viewed and len(viewed) == 3


def test_an_officer_checks_each_director_of_a_kyb_on_the_console(client, auth, services, ann, bob):
    """A KYB's approval is refused while a director is unchecked; the claiming officer checks the director on the
    page (audited), then the two approvals verify the business."""
    app_id, _ = _kyb(client, auth)
    detail = f"/console/kyc/{app_id}"
    check = f"{detail}/directors/d1/verify"
    assert ann.post(check, detail)[0] == 409  # not claimed yet: nothing is checked
    assert ann.post(f"{detail}/claim", detail)[2] == detail
    assert check in ann.get(detail)[1]
    status, html, _ = _approve(ann, detail)
    assert status == 409 and "Otieno Odhiambo" in html
    assert ann.post(check, detail)[2] == detail
    status, html = ann.get(detail)
    assert check not in html and "checked" in html
    assert [r.actor for r in _audited(services, "kyc.director_verified")] == [f"user:{ann.id}"]
    assert _approve(ann, detail)[0] == 303
    assert bob.post(f"{detail}/claim", detail)[0] == 303
    assert _approve(bob, detail)[0] == 303
    assert services.kyc_review.standing(_party(services, app_id)).profile.level == 1


def test_a_second_account_with_the_same_id_is_flagged_and_approved_only_once_linked(client, auth, services, ann, bob):
    """G5: a second account gave the ID of a verified one: the queue and the application warn, the approval is
    refused (409, naming the account) until the claiming officer links them with a reason (422 without one)."""
    first, _ = _application(client, auth)
    for officer in (ann, bob):
        page = f"/console/kyc/{first}"
        officer.post(f"{page}/claim", page)
        assert _approve(officer, page)[0] == 303
    verified = _party(services, first)
    second, _ = _application(client, auth)
    status, queue = ann.get("/console/kyc")
    assert status == 200 and "ID used by another account" in queue
    detail = f"/console/kyc/{second}"
    status, html = ann.get(detail)
    assert "The same ID document was given by other accounts" in html and verified in html
    assert f"{detail}/link-id" not in html  # only the claiming officer links
    ann.post(f"{detail}/claim", detail)
    status, html, _ = _approve(ann, detail)
    assert status == 409 and verified in html and f"{detail}/link-id" in html
    status, html, _ = ann.post(f"{detail}/link-id", detail, id_link_reason="  ")
    assert status == 422 and not _audited(services, "kyc.id_linked")
    assert ann.post(f"{detail}/link-id", detail, id_link_reason="same person, first SIM lost")[2] == detail
    status, html = ann.get(detail)
    assert "Linked because: same person, first SIM lost" in html and f"{detail}/link-id" not in html
    assert "ID used by another account" not in ann.get("/console/kyc")[1]
    assert _approve(ann, detail)[0] == 303
    assert bob.post(f"{detail}/claim", detail)[0] == 303
    assert _approve(bob, detail)[0] == 303
    assert services.kyc_review.standing(_party(services, second)).profile.level == 2
    [linked] = _audited(services, "kyc.id_linked")
    assert linked.actor == f"user:{ann.id}" and dict(linked.details)["accounts"] == verified


def _kyb(client, auth, details=BUSINESS) -> tuple[str, str]:
    """A merchant's KYB with its certificate and its director's photos, submitted: its id and the merchant's."""
    owner, merchant = auth.merchant()
    app_id = client.post("/v1/kyc/business-applications", json=details, headers=owner).json["id"]
    assert upload(client, owner, app_id, "certificate_of_incorporation", pdf()).status_code == 201
    for kind in ("id_front", "id_back", "selfie"):
        assert upload(client, owner, app_id, kind, photo(), director="d1").status_code == 201
    assert client.post(f"/v1/kyc/applications/{app_id}/submit", headers=owner).status_code == 200
    return app_id, merchant


def test_a_second_merchant_with_the_same_registration_is_flagged_and_approved_only_once_linked(
    client, auth, services, ann, bob
):
    """G5 for businesses: the queue and the application name the verified merchant that gave the registration
    number (in Swahili too), and the director also on its application (information only); the approval is refused
    (409) until the claiming officer links them with a reason."""
    first, verified = _kyb(client, auth)
    for officer in (ann, bob):
        page = f"/console/kyc/{first}"
        officer.post(f"{page}/claim", page)
        officer.post(f"{page}/directors/d1/verify", page)
        assert _approve(officer, page)[0] == 303
    second, _ = _kyb(client, auth, {**BUSINESS, "registration_number": "PVT/AB12CD3"})
    assert "Registration number used by another merchant" in ann.get("/console/kyc")[1]
    detail = f"/console/kyc/{second}"
    status, html = ann.get(detail)
    assert "The same business registration number was given by other merchants" in html and verified in html
    assert "Directors also named on other businesses" in html
    ann.post(f"{detail}/claim", detail)
    ann.post(f"{detail}/directors/d1/verify", detail)
    status, html, _ = _approve(ann, detail)
    assert status == 409 and verified in html and f"{detail}/link-id" in html
    assert "One business, one verified merchant" in html
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(detail)
    assert "Nambari hiyo hiyo ya usajili wa biashara ilitolewa na wafanyabiashara wengine" in html
    assert "Wakurugenzi ambao pia wametajwa kwenye biashara nyingine" in html
    ann.client.set_cookie("cp_lang", "en")
    assert ann.post(f"{detail}/link-id", detail, id_link_reason="one company, re-registered")[2] == detail
    assert _approve(ann, detail)[0] == 303
    [linked] = _audited(services, "kyc.id_linked")
    assert dict(linked.details)["accounts"] == verified


def test_an_officer_rejects_with_a_reason_and_asks_for_information(client, auth, services, ann):
    """An empty reason is a 422 that changes nothing; with a reason the application is rejected and audited."""
    app_id, _ = _application(client, auth)
    detail = f"/console/kyc/{app_id}"
    ann.post(f"{detail}/claim", detail)
    status, html, _ = ann.post(f"{detail}/reject", detail, reason="  ")
    assert status == 422 and "in review" in html
    assert ann.post(f"{detail}/request-information", detail, message="a clearer selfie please")[0] == 303
    assert "information requested" in ann.get(detail)[1]
    other, _ = _application(client, auth)
    path = f"/console/kyc/{other}"
    ann.post(f"{path}/claim", path)
    assert ann.post(f"{path}/reject", path, reason="the ID number does not match")[0] == 303
    assert "rejected" in ann.get(path)[1] and _audited(services, "kyc.application_rejected")


def test_the_document_viewer_serves_the_file_only_to_officers_and_audits_each_view(client, auth, services, ann, chief):
    """The picture comes back byte for byte, no-store, its own type and a CSP; admins and visitors get nothing."""
    app_id, selfie = _application(client, auth)
    viewer = f"/console/kyc/{app_id}/documents/{selfie}"
    status, html = ann.get(viewer)
    assert status == 200 and f"{viewer}/content" in html
    answer = ann.client.get(f"{viewer}/content")
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    assert answer.headers["Cache-Control"] == "no-store" and "sandbox" in answer.headers["Content-Security-Policy"]
    assert answer.data[:2] == b"\xff\xd8"
    assert [dict(r.details) for r in _audited(services, "kyc.document_viewed")][-1]["document"] == selfie
    assert chief.get(f"{viewer}/content")[0] == 403
    assert client.get(f"{viewer}/content").status_code == 303  # to the login page
    assert ann.get(f"/console/kyc/{app_id}/documents/kyd_nope/content")[0] == 404
    assert len(_audited(services, "kyc.document_viewed")) == 1


def test_every_console_form_needs_its_csrf_token(client, auth, services, ann):
    """A post without the token (or with another login's) is refused before anything changes."""
    app_id, _ = _application(client, auth)
    refused = ann.client.post(f"/console/kyc/{app_id}/claim", data={})
    assert refused.status_code == 403
    forged = ann.client.post(f"/console/kyc/{app_id}/claim", data={"csrf_token": "x" * 40})
    assert forged.status_code == 403
    assert "waiting for an officer" in ann.get(f"/console/kyc/{app_id}")[1]
    assert not _audited(services, "kyc.application_claimed")


def _alerts(services, party: str = "usr_big") -> None:
    at = services.clock.now()
    for n, amount in enumerate(("1500000", "1200000")):
        services.monitoring.observe(
            Movement(
                id=f"mv_{party}_{n}",
                party_id=party,
                product="wallet_buy",
                direction=Direction.IN,
                amount=Money.of(amount, KES),
                at=at,
            )
        )
    services.monitoring.run_batch(at - timedelta(minutes=1), at + timedelta(minutes=1))


def test_an_alert_becomes_a_case_that_is_noted_assigned_reported_and_exported(services, ann, bob):
    """Officers group the open alerts, note, assign, download the STR and record its filing (the case reported:
    never by its status alone, nor before the XML export); all audited."""
    _alerts(services)
    status, html = ann.get("/console/alerts?status=open")
    alert_ids = re.findall(r'name="alert" value="([^"]+)"', html)
    assert status == 200 and len(alert_ids) >= 2
    token = _csrf(html)
    opened = ann.client.post("/console/alerts/case", data={"csrf_token": token, "alert": alert_ids})
    assert opened.status_code == 303
    case = opened.headers["Location"]
    again = ann.client.post("/console/alerts/case", data={"csrf_token": token, "alert": alert_ids})
    assert again.status_code == 409
    status, html = ann.get(case)
    assert "large-value" in html and "threshold" in html
    assert ann.post(f"{case}/notes", case, text="source of funds unclear")[0] == 303
    assert ann.post(f"{case}/assign", case, assignee=bob.email)[0] == 303
    assert ann.post(f"{case}/assign", case, assignee="nobody@example.com")[0] == 404
    assert 'value="reported"' not in bob.get(case)[1]  # reported: by the filing form only (R12-8)
    status, html, _ = bob.post(f"{case}/status", case, status="reported", note="STR filed")
    assert status == 422 and "recording its STR&#39;s filing" in html
    today = services.clock.now().astimezone(NAIROBI).date().isoformat()
    status, html, _ = bob.post(f"{case}/filing", case, reference="100234", filed_on=today)
    assert status == 422 and "goAML XML before recording" in html and 'value="100234"' in html
    token = _csrf(bob.get(case)[1])
    nameless = services.users.get(bob.id)
    named, nameless.display_name = nameless.display_name, None
    services.users.update(nameless)
    refused = bob.client.post(f"{case}/str", data={"csrf_token": token, "rentity_id": "RE1234", "format": "xml"})
    assert refused.status_code == 422 and "cryptopay users set-name" in refused.get_data(as_text=True)  # R14-5
    nameless.display_name = named
    services.users.update(nameless)
    report = bob.client.post(f"{case}/str", data={"csrf_token": token, "rentity_id": "RE1234", "format": "xml"})
    assert b"<first_name>Bob</first_name>" in report.data and b"<last_name>Wambui</last_name>" in report.data
    assert report.status_code == 200 and report.mimetype == "application/xml"
    assert "attachment" in report.headers["Content-Disposition"] and b"<report>" in report.data
    assert bob.client.post(f"{case}/str", data={"csrf_token": token, "rentity_id": "a b"}).status_code == 422
    bob.client.set_cookie("cp_lang", "sw")
    status, html, _ = bob.post(f"{case}/filing", case, reference="100234", filed_on="2999-01-01")
    assert status == 422 and 'value="2999-01-01"' in html  # what was typed, kept
    assert "the filing date is not in the future" in html and "Angalia" in html  # Swahili, the English below
    bob.client.set_cookie("cp_lang", "en")
    assert bob.post(f"{case}/filing", case, reference="100234", filed_on=today, note="by the MLRO")[0] == 303
    html = bob.get(case)[1]
    assert "reported to the FRC" in html and "<code>100234</code>" in html and f"<dd>{today}</dd>" in html
    assert 'action="/console/cases/' not in html.split('id="filing"')[1]  # the filing shown, no form
    assert bob.get("/console/cases?status=reported")[1].count(case.rsplit("/", 1)[1]) >= 1
    for action in ("compliance.case_opened", "compliance.case_noted", "compliance.case_assigned"):
        assert _audited(services, action), action
    assert [r.actor for r in _audited(services, "compliance.str_exported")] == [f"user:{bob.id}"]
    [filed] = _audited(services, "compliance.str_filed")
    assert filed.actor == f"user:{bob.id}" and dict(filed.details)["reference"] == "100234"
    # Finding I10: reading the alerts, the cases and a case is audited, by whoever read
    assert {r.actor for r in _audited(services, "compliance.alerts_viewed")} == {f"user:{ann.id}"}
    assert f"user:{bob.id}" in {r.actor for r in _audited(services, "compliance.case_viewed")}
    assert [r.actor for r in _audited(services, "compliance.cases_viewed")] == [f"user:{bob.id}"]


def test_freezing_an_account_needs_a_reason_and_a_fresh_code(client, auth, services, ann):
    """Without a code nothing is frozen; with one the account is frozen (audited), then unfrozen."""
    customer = auth.register("wanjiku@example.co.ke")
    party = customer["id"] if "id" in customer else services.users.by_email("wanjiku@example.co.ke").id
    page = f"/console/accounts/{party}"
    status, html = ann.get("/console/accounts?q=wanjiku@example.co.ke")
    assert status == 200 and party in html
    status, html, _ = ann.post(f"{page}/freeze", page, reason="sanctions match under review", code="000000")
    assert status == 403 and "active" in ann.get(page)[1]
    assert ">sanctions match under review</textarea>" in html  # the reason typed survives a wrong code
    assert ann.post(f"{page}/freeze", page, reason="sanctions match under review", code=ann.code())[0] == 303
    assert "frozen" in ann.get(page)[1] and _audited(services, "kyc.frozen")
    assert ann.post(f"{page}/unfreeze", page, code=ann.code())[0] == 303
    assert "active" in ann.get(page)[1]
    assert {r.actor for r in _audited(services, "privacy.subject_looked_up")} == {f"user:{ann.id}"}


@pytest.mark.parametrize("who", ["ann", "chief"])
def test_staff_close_a_merchant_with_a_reason_and_a_fresh_code(request, auth, services, who):
    """Admins and officers close a merchant (audited with the reason): without a code or a reason nothing changes;
    the page then shows it closed and offers no second closing."""
    staff = request.getfixturevalue(who)
    _owner, merchant_id = auth.merchant()
    page = f"/console/accounts/{merchant_id}"
    status, html = staff.get(page)
    assert status == 200 and f'action="{page}/close"' in html
    assert "daily · M-Pesa to a phone · +254 712 345 678" in html  # the settlement in words, not its codes
    staff.client.set_cookie("cp_lang", "sw")
    assert "kila siku · M-Pesa kwa simu · +254 712 345 678" in staff.get(page)[1]
    staff.client.delete_cookie("cp_lang")
    assert staff.post(f"{page}/close", page, reason="contract ended", code="000000")[0] == 403
    assert staff.post(f"{page}/close", page, reason=" ", code=staff.code())[0] == 422
    assert services.merchants.get(merchant_id).closed_at is None
    assert staff.post(f"{page}/close", page, reason="contract ended", code=staff.code())[0] == 303
    assert services.merchants.get(merchant_id).closed_at is not None
    records = [r for r in services.audit.records() if r.action == "merchant.closed"]
    assert [(r.actor, dict(r.details)) for r in records] == [(f"user:{staff.id}", {"reason": "contract ended"})]
    closed_at = services.merchants.get(merchant_id).closed_at
    status, html = staff.get(page)
    assert status == 200 and f'action="{page}/close"' not in html
    assert staff.post(f"{page}/close", page, reason="again", code=staff.code())[0] == 303
    assert services.merchants.get(merchant_id).closed_at == closed_at  # the first date stands, audited once
    assert len([r for r in services.audit.records() if r.action == "merchant.closed"]) == 1


def test_an_admin_changes_a_role_with_a_code_and_officers_cannot(auth, services, ann, chief):
    """Admins give roles (audited); a compliance officer is refused the form (403)."""
    auth.register("newhire@cryptopay.example")
    user = services.users.by_email("newhire@cryptopay.example")
    page = f"/console/accounts/{user.id}"
    assert chief.post(f"{page}/role", page, role="compliance", code=chief.code())[0] == 303
    assert services.users.get(user.id).role is Role.COMPLIANCE
    assert [dict(r.details)["after"] for r in _audited(services, "user.role_changed")] == ["compliance"]
    html = ann.get(page)[1]  # who made it staff, linked to their account (four-eyes reads it)
    assert (
        "Made staff by" in html and f'<a href="/console/accounts/{chief.id}"><code>user:{chief.id}</code></a>' in html
    )
    token = _csrf(html)
    assert ann.client.post(f"{page}/role", data={"csrf_token": token, "role": "admin"}).status_code == 403


@pytest.mark.parametrize(
    ("path", "admin", "compliance"),
    [
        ("/console/kyc", 403, 200),
        ("/console/alerts", 403, 200),
        ("/console/cases", 403, 200),
        ("/console/accounts", 200, 200),
        ("/console/audit", 200, 200),
        ("/console/reconciliation", 200, 403),
        ("/console/treasury", None, 403),  # the in-memory stack has no treasury: its page is tested on the root
        ("/console/health", None, 403),
    ],
)
def test_each_page_is_for_the_role_of_its_rest_twin(path, admin, compliance, ann, chief, services):
    """Compliance pages refuse admins, admin pages refuse officers; both see the audit log and accounts. Each
    refusal is audited (``access.refused``) with the page's route and the member who tried."""
    if admin is not None:
        assert chief.get(path)[0] == admin
    assert ann.get(path)[0] == compliance
    refused = [(r.actor, r.subject) for r in services.audit.records() if r.action == "access.refused"]
    expected = [(f"user:{m.id}", f"route:{path}") for m, status in ((chief, admin), (ann, compliance)) if status == 403]
    assert refused == expected


def test_every_console_route_is_listed_with_its_roles(app):
    """Deny by default: every route of the app under /console is the console blueprint's and is named in its role
    map with the roles that may use it (a page added without its roles fails here, as it would be refused to all);
    the map names no route that is gone, and only staff roles."""
    from cryptopay_http.pages.console import ROLES

    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/console") or r.endpoint.startswith("console.")]
    assert rules and all(r.endpoint.startswith("console.") for r in rules), [r.rule for r in rules]
    routes = {r.endpoint.removeprefix("console."): r.rule for r in rules}
    assert {name: rule for name, rule in routes.items() if name not in ROLES} == {}, "console routes without roles"
    assert sorted(ROLES.keys() - routes.keys()) == []
    assert all(roles and roles <= {Role.ADMIN, Role.COMPLIANCE} for roles in ROLES.values())


def test_an_unlisted_console_route_is_refused_to_every_staff_role_and_audited(app, auth, services):
    """A console page whose endpoint is not in the role map is refused (403) to officers and admins alike, and
    each refusal is audited with the route; the page's view never runs."""
    ran: list[str] = []

    def unlisted() -> str:
        ran.append("ran")
        return "the unlisted page"

    app.add_url_rule("/console/unlisted/<item>", endpoint="console.unlisted", view_func=unlisted)
    staff = [Staff(app, auth, "ann@cryptopay.example", Role.COMPLIANCE)]
    staff.append(Staff(app, auth, "chief@cryptopay.example", Role.ADMIN))
    for member in staff:
        status, html = member.get("/console/unlisted/42")
        assert status == 403 and "the unlisted page" not in html
        assert member.get("/console/audit")[0] == 200  # a listed page still opens
    assert ran == []
    records = [r for r in services.audit.records() if r.action == "console.unlisted"]
    assert [(r.actor, r.subject) for r in records] == [
        (f"user:{m.id}", "route:/console/unlisted/<item>") for m in staff
    ]
    assert {dict(r.details)["endpoint"] for r in records} == {"console.unlisted"}


@pytest.fixture
def root(tmp_path) -> Iterator[tuple[Flask, AuthActions]]:
    """The app on the composition root (SQLite), as deployed."""
    services = build(Settings.for_data_dir(tmp_path))
    app = make_app(services)
    yield app, AuthActions(app, app.test_client())
    services.close()


def test_the_admin_sees_reconciliation_treasury_and_health_on_the_root(root):
    """The reconciliation page (tested fully in test_console_reconciliation_page), the float, the readiness checks
    and the workers' figures are shown."""
    chief = Staff(*root, "chief@cryptopay.example", Role.ADMIN)
    status, html = chief.get("/console/reconciliation")
    assert status == 200 and "Reconcile now" in html
    status, html = chief.get("/console/treasury")
    assert status == 200 and "M-Pesa float" in html and "KES" in html
    status, html = chief.get("/console/health")
    assert status == 200 and "database: <strong" in html and "migrations" in html
    status, html = chief.get("/console/search?q=0712345678")  # the root's SQL read model answers
    assert status == 200 and "Nothing matches." in html


def test_the_pages_speak_swahili(ann):
    """The KYC queue in Swahili."""
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get("/console/kyc")
    assert status == 200 and 'lang="sw"' in html


def test_staff_search_transactions_by_id_and_address(shop, ann, chief):
    """An invoice is found by its id and by its deposit address, by officers and admins; a bad term is a 422."""
    invoice = shop.invoice("100")
    address = invoice["payment_options"][0]["address"]
    for staff in (ann, chief):
        status, html = staff.get(f"/console/search?q={invoice['id']}")
        assert status == 200 and invoice["id"] in html and "invoice" in html
    status, html = ann.get(f"/console/search?q={address}")
    assert status == 200 and invoice["id"] in html and "address" in html
    status, html = ann.get("/console/search?q=%3Cscript%3E")
    assert status == 422 and 'role="alert"' in html
    assert "Nothing matches." in ann.get("/console/search?q=inv_nope")[1]
    # Finding I10: a search by phone is a lookup of a person's finances: audited, the number masked
    ann.get("/console/search?q=254712300001")
    [by_phone] = [
        r
        for r in _audited(ann.app.extensions["cryptopay"].services, "console.search")
        if dict(r.details)["kind"] == "phone"
    ]
    assert dict(by_phone.details)["query"] == "2547******01" and "254712300001" not in str(by_phone.details)
    # the same masking as the audit search's (one core function): an id or an address is kept as typed
    queries = {dict(r.details)["query"] for r in _audited(ann.app.extensions["cryptopay"].services, "console.search")}
    assert {invoice["id"], address} <= queries


def test_an_officer_sees_when_an_account_was_disabled(client, auth, services, ann):
    """An account released by its address's owner ("this wasn't me") shows "Disabled" with the time, in the search
    by id and on its page; a usable account shows no such line."""
    auth.register("squatter@duka.co.ke", "merchant")
    user = services.users.by_email("squatter@duka.co.ke")
    assert "Disabled" not in ann.get(f"/console/accounts/{user.id}")[1]
    token = link_token(services.notifier.sent, "squatter@duka.co.ke", release=True)
    assert client.post("/v1/auth/email/release", json={"token": token}).status_code == 204
    disabled_at = services.users.get(user.id).disabled_at
    assert disabled_at is not None
    status, page = ann.get(f"/console/accounts/{user.id}")
    assert status == 200 and "<dt>Disabled</dt>" in page and str(disabled_at.year) in page
    status, found = ann.get(f"/console/accounts?q={user.id}")
    assert status == 200 and "<strong>Disabled</strong>" in found


def test_an_admin_passes_mpesa_charges_on_to_a_merchant_with_a_code_and_officers_cannot(auth, services, ann, chief):
    """R13: the merchant's page shows who bears M-Pesa's charge; an admin sets the B2C bands with a fresh code
    (audited), after which the page lists them; without a code, with a value staff may not set, or as a compliance
    officer, nothing changes."""
    from cryptopay.core.payments import StoreSettings
    from cryptopay.core.payments.charges import PayoutCharging, charging_of
    from cryptopay.core.rails import rail_for

    _owner, merchant_id = auth.merchant()
    with services.uow() as uow:
        uow.stores.put(StoreSettings(merchant_id=merchant_id, rails=[rail_for("tron", "USDT")]))
    page = f"/console/accounts/{merchant_id}"
    status, html = chief.get(page)
    assert status == 200 and "The platform bears M-Pesa" in html and f'action="{page}/payout-charges"' in html
    assert f'action="{page}/payout-charges"' not in ann.get(page)[1]
    assert chief.post(f"{page}/payout-charges", page, charging="mpesa_b2c", code="000000")[0] == 403
    assert chief.post(f"{page}/payout-charges", page, charging="custom", code=chief.code())[0] == 422
    assert ann.post(f"{page}/payout-charges", page, charging="mpesa_b2c", code=ann.code())[0] == 403

    def changes() -> list[str]:
        with services.uow() as uow:
            return [r.actor for r in uow.audit.about([f"merchant:{merchant_id}"]) if r.action == "store.payout_charges"]

    assert changes() == []
    assert chief.post(f"{page}/payout-charges", page, charging="mpesa_b2c", code=chief.code())[0] == 303
    with services.uow() as uow:
        store = uow.stores.get(merchant_id)
    assert store is not None and charging_of(store.payout_charges(services.clock.now())) is PayoutCharging.MPESA_B2C
    assert changes() == [f"user:{chief.id}"]
    status, html = chief.get(page)
    assert status == 200 and "passed on to the merchant" in html and "20001.00" in html


def test_an_admin_sets_a_merchant_fee_with_a_code_and_the_owner_is_told(auth, services, ann, chief):
    """Reviewer9 R9-9: the merchant's page shows its fee and an admin's form sets it with a fresh code (audited,
    the owner emailed); without a code, with a percent out of range, or as a compliance officer, nothing changes."""
    from cryptopay.core.payments import StoreSettings
    from cryptopay.core.rails import rail_for

    _owner, merchant_id = auth.merchant()
    with services.uow() as uow:
        uow.stores.put(StoreSettings(merchant_id=merchant_id, rails=[rail_for("tron", "USDT")]))
    page = f"/console/accounts/{merchant_id}"
    status, html = chief.get(page)
    assert status == 200 and "No merchant fee." in html and f'action="{page}/merchant-fee"' in html
    assert f'action="{page}/merchant-fee"' not in ann.get(page)[1]
    assert chief.post(f"{page}/merchant-fee", page, percent="2", code="000000")[0] == 403
    assert chief.post(f"{page}/merchant-fee", page, percent="101", code=chief.code())[0] == 422
    assert chief.post(f"{page}/merchant-fee", page, percent="abc", code=chief.code())[0] == 422
    assert ann.post(f"{page}/merchant-fee", page, percent="2", code=ann.code())[0] == 403

    def changes() -> list[str]:
        with services.uow() as uow:
            return [r.actor for r in uow.audit.about([f"merchant:{merchant_id}"]) if r.action == "store.merchant_fee"]

    assert changes() == []
    assert chief.post(f"{page}/merchant-fee", page, percent="2.5", code=chief.code())[0] == 303
    assert changes() == [f"user:{chief.id}"]
    status, html = chief.get(page)
    assert status == 200 and "2.5% of each payment" in html
    email = services.users.get(services.merchants.get(merchant_id).owner_user_id).email
    assert [n.subject for n in services.notifier.sent_to(email)].count("Your cryptopay fee changed") == 1
