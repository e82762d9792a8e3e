"""The dashboard's business pages over the in-memory stack: analytics charts with their tables, the monthly statement
and tax report (CSV and PDF, read back), the till poster, the team and the KYB application; team roles and CSRF."""

from __future__ import annotations

import io
import re

import pypdf
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.http.test_http_teams import join
from tests.integration.http_review.test_outside_review_dashboard import _page_login as page_login
from tests.integration.web.test_dashboard_pages import EMAIL, _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner
from tests.integration.web.test_dashboard_refund_cancel import _invoice
from tests.support.kyc_rig import camera_photo


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _paid(client: FlaskClient, stack, amount: str = "1300") -> str:
    invoice_id = _invoice(client, amount)
    stack.pay(invoice_id)
    stack.confirm(3)
    return invoice_id


def test_analytics_draws_volume_rails_and_outcomes_with_their_figures(client, owner, stack):
    """A paid and an expired invoice: the volume and rail charts show the USDT received, the outcome chart one paid
    and one expired, each as an SVG image with a title and its figures in a table."""
    _log_in(client)
    _paid(client, stack)
    _invoice(client, "500")
    stack.tick(hours=2)  # the second invoice expires
    page = client.get("/dashboard/analytics?days=7")
    html = page.text
    assert page.status_code == 200 and html.count('role="img"') == 6 and "<title id=" in html  # wide and narrow
    assert html.count('viewBox="0 0 320 ') == 3 and html.count('viewBox="0 0 640 ') == 3
    assert (
        "USDT received per day" in html and "USDT · Tron" in html and "USDT · tron" not in html
    )  # the chart names the chain as the table does
    outcomes = re.search(r"Invoices per day</th>.*?</table>", html, re.S) or re.search(
        r'aria-label="Invoices per day".*?</table>', html, re.S
    )
    cells = r'<td data-label="paid">1</td><td data-label="expired">1</td><td data-label="cancelled">0</td>'
    assert outcomes and re.search(cells + r'<td data-label="open">0</td>', outcomes.group(0))
    assert 'class="paid"' in html and 'class="expired"' in html
    assert client.get("/dashboard/analytics?days=1000").status_code == 422


def test_monthly_statement_and_tax_report_download_as_csv_and_pdf(client, owner, stack):
    """The month's statement PDF lists the sale and the merchant's name; its CSVs are the reports; the tax report
    names the excise duty; the same PDF in Swahili speaks Swahili."""
    _log_in(client)
    _paid(client, stack)
    month = stack.clock.now().strftime("%Y-%m")
    year = month[:4]
    page = client.get("/dashboard/reports").text
    assert f"/dashboard/reports/statement.pdf?month={month}" in page and f"tax-{year}.pdf" in page
    assert "(1 payment)" in page  # one payment, not "1 payments"
    statement = client.get(f"/dashboard/reports/statement.pdf?month={month}")
    assert statement.status_code == 200 and statement.mimetype == "application/pdf"
    text = _pdf_text(statement.data)
    assert "Monthly statement" in text and "Duka Ltd" in text and "Sales" in text and "USDT" in text
    sales = client.get(f"/dashboard/reports/sales.csv?month={month}")
    assert sales.mimetype == "text/csv" and sales.text.splitlines()[0] == "period,asset,payments,received,fees,net"
    assert ",USDT,1," in sales.text
    tax_csv = client.get(f"/dashboard/reports/tax-{year}.csv")
    assert tax_csv.status_code == 200 and "excise_duty" in tax_csv.text.splitlines()[0]
    tax = _pdf_text(client.get(f"/dashboard/reports/tax-{year}.pdf").data)
    assert "Tax report" in tax and "Excise duty" in tax and "Merchant fee" in tax
    client.get("/lang/sw?next=/dashboard/")
    swahili = _pdf_text(client.get(f"/dashboard/reports/statement.pdf?month={month}").data)
    assert "Taarifa ya mwezi" in swahili and "Mauzo" in swahili
    assert "(malipo 1)" in client.get("/dashboard/reports").text  # the page too, its count in Swahili
    assert client.get("/dashboard/reports/statement.pdf?month=2026-13").status_code == 422
    assert client.get("/dashboard/reports/ledger.csv").status_code == 404


def test_what_the_merchant_owes_for_refunds_after_settlement_is_on_its_home_and_statement(client, owner, stack):
    """R25: after a refund its settled balance did not cover, the dashboard's home shows what the merchant owes and
    the monthly statement (PDF, English and Swahili; its settlements CSV's last row) says it too; nothing owed, no
    line on the home page."""
    from cryptopay.core.money import USDT, Money

    from tests.integration.web.test_dashboard_refund_cancel import CUSTOMER

    _log_in(client)
    invoice_id = _paid(client, stack)
    assert "You owe" not in client.get("/dashboard/").text
    stack.settling.run_settlements()
    refund = stack.refunds.refund(
        invoice_id, address=CUSTOMER, requested_by="user:u1", amount=Money.of("1", USDT), fund_after_settlement=True
    )
    assert refund.owed is not None and refund.owed.is_positive()
    shown = f"KES {refund.owed.amount:,.2f}"
    home = client.get("/dashboard/").text
    assert "You owe" in home and shown in home and "netted from your next settlements" in home
    month = stack.clock.now().strftime("%Y-%m")
    text = _pdf_text(client.get(f"/dashboard/reports/statement.pdf?month={month}").data)
    assert "You owe for refunds after settlement" in text and shown in text
    settlements = client.get(f"/dashboard/reports/settlements.csv?month={month}").text.splitlines()
    assert settlements[-1] == f"owed_by_merchant,,,,,,,,KES,{refund.owed.amount:f}"
    client.get("/lang/sw?next=/dashboard/")
    assert "Unadaiwa" in client.get("/dashboard/").text
    assert "Unadaiwa kwa marejesho" in _pdf_text(client.get(f"/dashboard/reports/statement.pdf?month={month}").data)


def test_a_till_poster_is_a_pdf_with_the_link_s_qr_code(client, owner, app):
    """A payment link's poster names the merchant and what it is for, and prints the link under its QR code; the
    store poster takes the newest link without a fixed amount."""
    _log_in(client)
    form = client.get("/dashboard/links").text
    body = {"csrf_token": _csrf(form), "description": "Till 1", "amount": "", "currency": "KES"}
    assert client.post("/dashboard/links", data=body).status_code == 303
    links = client.get("/dashboard/links").text
    poster_path = re.search(r'href="(/dashboard/links/[^"]+/poster\.pdf)"', links)
    public = re.search(r'href="/link/([^"]+)"', links)
    assert poster_path and public
    poster = client.get(poster_path.group(1))
    text = _pdf_text(poster.data)
    assert "Scan to pay" in text and "Duka Ltd" in text and "Till 1" in text and f"/link/{public.group(1)}" in text
    content = pypdf.PdfReader(io.BytesIO(poster.data)).pages[0].get_contents().get_data()
    assert content.count(b" re") > 200  # the QR code's squares
    assert f"/link/{public.group(1)}" in _pdf_text(client.get("/dashboard/poster.pdf").data)


def test_the_store_poster_needs_a_link_without_a_fixed_amount(client, owner):
    """Without such a link the poster is a 409 page saying what to do."""
    _log_in(client)
    answer = client.get("/dashboard/poster.pdf")
    assert answer.status_code == 409 and "payment link without a fixed amount" in answer.text


def test_the_owner_invites_changes_a_role_and_removes_a_member(app, client, auth, services, owner):
    """Invite by email (the invitation is listed), a joined member's role changed to finance, then removed after
    the confirmation box; a member cannot be removed without it."""
    _log_in(client)
    page = client.get("/dashboard/team").text
    invited = client.post(
        "/dashboard/team/invitations", data={"csrf_token": _csrf(page), "email": "new@duka.example", "role": "staff"}
    )
    assert invited.status_code == 303 and "new@duka.example" in client.get("/dashboard/team").text
    bad = client.post("/dashboard/team/invitations", data={"csrf_token": _csrf(page), "email": "x", "role": "staff"})
    assert bad.status_code == 422 and "email address" in bad.text
    owner_headers = bearer(auth.login(EMAIL)["access_token"])
    join(client, auth, services, owner_headers, "staff@duka.example", "staff")
    user_id = services.users.by_email("staff@duka.example").id
    page = client.get("/dashboard/team").text
    path = f"/dashboard/team/members/{user_id}/role"
    unconfirmed = client.post(path, data={"csrf_token": _csrf(page), "role": "finance"})
    assert unconfirmed.status_code == 422 and "password" in unconfirmed.text  # finance is given after a step-up
    wrong = client.post(path, data={"csrf_token": _csrf(page), "role": "finance", "password": "not the password"})
    assert wrong.status_code == 403 and [m.role.value for m in services.teams.members(owner)] == ["owner", "staff"]
    changed = client.post(path, data={"csrf_token": _csrf(page), "role": "finance", "password": PASSWORD})
    assert changed.status_code == 303
    assert [m.role.value for m in services.teams.members(owner) if m.user_id == user_id] == ["finance"]
    unconfirmed = client.post(f"/dashboard/team/members/{user_id}/remove", data={"csrf_token": _csrf(page)})
    assert unconfirmed.status_code == 422
    removed = client.post(
        f"/dashboard/team/members/{user_id}/remove", data={"csrf_token": _csrf(page), "confirm": "yes"}
    )
    assert removed.status_code == 303 and all(m.user_id != user_id for m in services.teams.members(owner))


def test_inviting_an_admin_on_the_dashboard_needs_the_password(client, owner, services):
    """A hijacked dashboard cookie alone cannot invite an admin (the form asks for the password; a wrong one is
    audited auth.step_up_failed); staff needs none; with the password the admin is invited."""
    _log_in(client)
    page = client.get("/dashboard/team").text
    assert 'name="password"' in page and 'id="invite-password"' in page
    form = {"csrf_token": _csrf(page), "email": "evil@evil.example", "role": "admin"}
    assert client.post("/dashboard/team/invitations", data=form).status_code == 422
    assert client.post("/dashboard/team/invitations", data={**form, "password": "guess guess guess"}).status_code == 403
    assert services.teams.invitations(owner) == [] and services.notifier.sent_to("evil@evil.example") == []
    assert "auth.step_up_failed" in {r.action for r in services.audit.records()}
    invited = client.post("/dashboard/team/invitations", data={**form, "password": PASSWORD})
    assert invited.status_code == 303
    assert [(i.email, i.role.value) for i in services.teams.invitations(owner)] == [("evil@evil.example", "admin")]


def test_a_bad_invitation_address_is_explained_in_words_in_english_and_swahili(client, owner):
    """The invitation form's bad address: a 422 page saying what to enter, in the page's language, never a pattern."""
    _log_in(client)
    page = client.get("/dashboard/team").text
    english = client.post(
        "/dashboard/team/invitations", data={"csrf_token": _csrf(page), "email": "x", "role": "staff"}
    )
    assert english.status_code == 422 and "email address, such as name@example.com" in english.text
    client.get("/lang/sw?next=/dashboard/")
    page = client.get("/dashboard/team").text
    swahili = client.post(
        "/dashboard/team/invitations", data={"csrf_token": _csrf(page), "email": "x", "role": "staff"}
    )
    assert swahili.status_code == 422 and "weka anwani ya barua pepe ya mtu huyo, kama jina@mfano.com" in swahili.text
    assert "[^@" not in english.text + swahili.text


def test_staff_reads_the_team_but_cannot_change_it_nor_read_the_reports(app, client, auth, services, owner):
    """Staff sees the members without the forms; its invitation post and the statements are 403 pages."""
    owner_headers = bearer(auth.login(EMAIL)["access_token"])
    join(client, auth, services, owner_headers, "staff@duka.example", "staff")
    staff = app.test_client()
    token = page_login(staff, "staff@duka.example")
    page = staff.get("/dashboard/team")
    assert page.status_code == 200 and "Invite someone" not in page.text and "staff@duka.example" in page.text
    post = staff.post(
        "/dashboard/team/invitations", data={"csrf_token": token, "email": "a@b.example", "role": "admin"}
    )
    assert post.status_code == 403
    for path in ("/dashboard/analytics", "/dashboard/reports", "/dashboard/reports/tax-2026.pdf", "/dashboard/kyb"):
        expected = 200 if path == "/dashboard/kyb" else 403
        assert staff.get(path).status_code == expected, path
    assert staff.post("/dashboard/kyb", data={"csrf_token": token}).status_code == 403
    assert [i.email for i in services.teams.invitations(owner)] == ["staff@duka.example"]  # its own, accepted


def test_the_owner_applies_for_kyb_uploads_the_certificate_and_submits(client, owner, services):
    """The application form opens a KYB application; a certificate (PDF) is uploaded and listed; submitting sends it
    to the officers; a missing field is a 422 that opens nothing; a form without its token is refused."""
    _log_in(client)
    page = client.get("/dashboard/kyb").text
    assert "Apply for verification" in page
    details = {
        "csrf_token": _csrf(page),
        "registered_name": "Duka Limited",
        "registration_number": "PVT-2020-001",
        "kra_pin": "P051234567X",
        "phone": "0712345678",
        "address": "Moi Avenue, Nairobi",
        "director_name": "Amina Wanjiru",
        "director_id_type": "national_id",
        "director_id_number": "12345678",
        "director_date_of_birth": "1985-04-12",
        "director_phone": "0722000111",
        "director_address": "Kilimani, Nairobi",
    }
    missing = client.post("/dashboard/kyb", data={**details, "kra_pin": ""})
    assert missing.status_code == 422 and "KRA PIN" in missing.text
    assert services.kyc_review.standing(owner).applications == []
    assert (
        client.post("/dashboard/kyb", data={k: v for k, v in details.items() if k != "csrf_token"}).status_code == 403
    )
    assert client.post("/dashboard/kyb", data=details).status_code == 303
    (application,) = services.kyc_review.standing(owner).applications
    page = client.get("/dashboard/kyb").text
    upload = {
        "csrf_token": _csrf(page),
        "kind": "certificate_of_incorporation",
        "file": (io.BytesIO(b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF"), "certificate.pdf"),
    }
    uploaded = client.post(
        f"/dashboard/kyb/{application.id}/documents", data=upload, content_type="multipart/form-data"
    )
    assert uploaded.status_code == 303, uploaded.text[:500]
    assert "certificate of incorporation" in client.get("/dashboard/kyb").text
    early = client.post(f"/dashboard/kyb/{application.id}/submit", data={"csrf_token": _csrf(page)})
    assert early.status_code in (409, 422) and 'role="alert"' in early.text  # the director's ID and selfie first
    page = client.get("/dashboard/kyb").text
    assert "Amina Wanjiru: selfie" in page
    for kind in ("id_front", "id_back", "selfie"):
        photo = {"csrf_token": _csrf(page), "kind": f"d1:{kind}", "file": (io.BytesIO(_png()), f"{kind}.png")}
        done = client.post(f"/dashboard/kyb/{application.id}/documents", data=photo, content_type="multipart/form-data")
        assert done.status_code == 303, done.text[:800]
    submitted = client.post(f"/dashboard/kyb/{application.id}/submit", data={"csrf_token": _csrf(page)})
    assert submitted.status_code == 303, submitted.text[:800]
    (application,) = services.kyc_review.standing(owner).applications
    assert application.state.value == "submitted"
    assert "waiting for an officer" in client.get("/dashboard/kyb").text  # the state in words


def test_kyb_scans_up_to_the_core_s_8_mb_are_taken_and_a_larger_one_is_refused_on_the_file(client, owner, services):
    """R9-4: a scanned certificate or a director's photo is 1-5 MB, above the site's 1 MB body limit: the KYB upload
    reads it (before the dashboard's guard parses the form); above the core's 8 MB (the one figure, not 10 MB) the
    core's refusal is on the file input, in the page's language; a body beyond what the page reads is a 413 page in
    the page's language."""
    _log_in(client)
    details = {
        "registered_name": "Duka Limited",
        "registration_number": "PVT-2020-001",
        "kra_pin": "P051234567X",
        "phone": "0712345678",
        "address": "Moi Avenue, Nairobi",
        "director_name": "Amina Wanjiru",
        "director_id_type": "national_id",
        "director_id_number": "12345678",
        "director_date_of_birth": "1985-04-12",
        "director_phone": "0722000111",
        "director_address": "Kilimani, Nairobi",
    }
    assert client.post("/dashboard/kyb", data={"csrf_token": _csrf(client.get("/dashboard/kyb").text), **details})
    (application,) = services.kyc_review.standing(owner).applications

    def send(data: bytes, kind: str = "d1:id_front"):
        form = {"csrf_token": _csrf(client.get("/dashboard/kyb").text), "kind": kind, "file": (io.BytesIO(data), "x")}
        return client.post(f"/dashboard/kyb/{application.id}/documents", data=form, content_type="multipart/form-data")

    scan = camera_photo(1200, 900)
    assert len(scan) > 1_000_000
    assert send(scan).status_code == 303
    (application,) = services.kyc_review.standing(owner).applications
    assert [d.size for d in application.documents] == [len(scan)]
    huge = camera_photo(1700, 1700, fmt="PNG")
    refused = send(huge, "d1:selfie")
    assert refused.status_code == 422 and "a document is at most 8 MB" in refused.text and "10 MB" not in refused.text
    assert 'name="file" aria-invalid="true" aria-describedby="refusal"' in refused.text
    client.get("/lang/sw?next=/dashboard/")
    assert "Picha au hati isizidi MB 8" in send(huge, "d1:selfie").text
    too_big = send(huge * 3)
    assert too_big.status_code == 413 and "Picha au hati isizidi MB 8" in too_big.text
    (application,) = services.kyc_review.standing(owner).applications
    assert len(application.documents) == 1


def _png() -> bytes:
    """A real PNG large enough for an ID photo (the KYC rules read its size)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 180, 160)).save(out, format="PNG")
    return out.getvalue()


def test_the_reports_page_shows_a_stablecoin_total_with_its_cents(client, owner, stack):
    """A month's sales of USDT 25 read ``USDT 25.00`` on the reports page, as money reads everywhere else (B8: the
    total dropped its cents, ``USDT 25``)."""
    _log_in(client)
    invoice_id = _invoice(client, "25", currency="USDT")
    stack.pay(invoice_id)
    stack.confirm(3)
    page = client.get("/dashboard/reports").text
    assert "USDT 25.00 (1 payment)" in page, re.findall(r"Sales in .*?</p>", page, re.S)
