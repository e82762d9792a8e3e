"""The dashboard's business pages, on the dashboard's blueprint (its session, CSRF and team-role guard):

- ``/dashboard/analytics``: volume per day and per rail, invoices paid vs expired, as server-drawn SVG charts with
  their figures in tables (``charts``; the core's ``Reports.analytics``);
- ``/dashboard/reports``: the monthly statement (PDF; its sales, fees and settlements as CSV) and the tax report
  of a year (CSV and PDF), from the core's merchant reports (``Reports``);
- ``/dashboard/links/<id>/poster.pdf`` and ``/dashboard/poster.pdf``: a till's "Scan to pay" poster of a payment
  link or of the store's own link (``printables.till_poster``);
- ``/dashboard/team``: members and invitations (invite, change a role, remove; the ``Teams`` use cases); giving
  admin or finance asks for the password or a one-time code (a step-up);
- ``/dashboard/kyb``: the merchant's KYB status and documents, apply, upload, submit (the ``KycReview`` use cases).

Every PDF is drawn by ``Services.pdf``; every refusal of a use case is shown on its form with its status.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

from cryptopay.core.errors import Conflict, CryptopayError, InvalidInput, NotFound
from cryptopay.core.identity.model import TeamRole
from cryptopay.core.identity.service import EMAIL_PATTERN
from cryptopay.core.kyc.applications import ApplicationState, BusinessDetails
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.documents import MAX_DOCUMENT_BYTES, MAX_DOCUMENT_MB, DocumentKind, DocumentRejected
from cryptopay.core.reports import Report
from cryptopay.core.reports.periods import MONTH_PATTERN
from cryptopay.core.system import NAIROBI
from flask import Response, g, request
from flask.typing import ResponseReturnValue

from cryptopay_http.blueprints.kyc import BusinessApplication, DirectorRequest
from cryptopay_http.pages.charts import column_chart, drawn, row_chart, stacked_chart
from cryptopay_http.pages.dashboard import bp, merchant_id
from cryptopay_http.pages.i18n import language, network_name
from cryptopay_http.pages.printables import merchant_statement, pdf_filename, pdf_response, tax_report, till_poster
from cryptopay_http.pages.refusals import N_, refusal
from cryptopay_http.pages.session import step_up_from_form
from cryptopay_http.pages.web import page, redirect, takes_documents
from cryptopay_http.runtime import runtime

__all__: list[str] = []  # routes only, on the dashboard's blueprint (its guard holds their team-role rules)

_MONTH = re.compile(MONTH_PATTERN)
_YEAR = re.compile(r"^[0-9]{4}$")
_YEARS = range(2000, 10000)  # the years a tax report may ask for (a year outside them is a 422)
_ROLES = ("admin", "finance", "staff")


def _today() -> date:
    return runtime().services.clock.now().astimezone(NAIROBI).date()


def _merchant_name() -> str:
    merchant = runtime().services.merchants.get(merchant_id())
    return merchant.business_name if merchant is not None else merchant_id()


# --- analytics --------------------------------------------------------------------------------------------------


@bp.get("/analytics")
def analytics() -> Response:
    """The last 30 days (or ``?days=7``): volume per day per asset, per rail, invoices paid vs expired."""
    days = request.args.get("days", "30")
    if days not in ("7", "30", "90"):
        raise InvalidInput("show 7, 30 or 90 days", field="days")
    found = runtime().services.reports.analytics(merchant_id(), days=int(days))
    labels = [f"{d.day}/{d.month}" for d in found.days]  # day/month, as Kenya writes dates
    volume = {
        asset: drawn(column_chart, [(label, per_day[d].amount) for label, d in zip(labels, found.days, strict=True)])
        for asset, per_day in sorted(found.volume.items())
    }
    rails = drawn(row_chart, [(f"{r.asset} · {network_name(r.network)}", r.received.amount) for r in found.rails])
    parts = [
        (label, (("paid", o.paid), ("expired", o.expired), ("cancelled", o.cancelled), ("open", o.open)))
        for label, o in ((label, found.outcome(d)) for label, d in zip(labels, found.days, strict=True))
    ]
    outcomes = drawn(stacked_chart, parts)
    context = {"found": found, "volume": volume, "rails": rails, "outcomes": outcomes, "days": days}
    return page("dashboard/analytics.html", nav="analytics", **context)


# --- statements and the tax report ------------------------------------------------------------------------------


def _month() -> str:
    month = request.args.get("month") or f"{_today():%Y-%m}"
    if not _MONTH.match(month):
        raise InvalidInput("a month is written YYYY-MM", field="month")
    return month


def _year() -> str:
    year = request.args.get("year") or f"{_today():%Y}"
    if not _YEAR.match(year) or int(year) not in _YEARS:
        raise InvalidInput("a year is written YYYY", field="year")
    return year


def _month_report(kind: str, month: str) -> Report:
    first = f"{month}-01"
    year, number = int(month[:4]), int(month[5:])
    last = date(year, number, calendar.monthrange(year, number)[1]).isoformat()
    return runtime().services.reports.report(kind, merchant_id(), period="day", first=first, last=last)


def _year_fees(year: str) -> Report:
    reports = runtime().services.reports
    return reports.report("fees", merchant_id(), period="month", first=f"{year}-01-01", last=f"{year}-12-31")


@bp.get("/reports")
def reports() -> Response:
    month, year = _month(), _year()
    sales = _month_report("sales", month)
    return page("dashboard/reports.html", nav="reports", month=month, year=year, sales=sales)


@bp.get("/reports/statement.pdf")
def statement_pdf() -> Response:
    """The month's statement: sales and settlements per day, fees per product with their taxes."""
    month = _month()
    sales, fees, settled = (_month_report(kind, month) for kind in ("sales", "fees", "settlements"))
    document = merchant_statement(_merchant_name(), month, sales, fees, settled)
    return pdf_response(document, pdf_filename("cryptopay-statement", merchant_id(), month))


@bp.get("/reports/<kind>.csv")
def statement_csv(kind: str) -> Response:
    """One part of the month's statement as CSV (``sales``, ``fees`` or ``settlements``), the API's same file."""
    if kind not in ("sales", "fees", "settlements"):
        raise NotFound(f"no report {kind}")
    month = _month()
    name = f"{kind}-{merchant_id()}-{month}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(_month_report(kind, month).as_csv(), mimetype="text/csv", headers=headers)


@bp.get("/reports/tax-<int:year>.<fmt>")
def tax_report_file(year: int, fmt: str) -> Response:
    """The year's fees per month with each tax on them, as CSV or PDF."""
    text = str(year)
    if year not in _YEARS:
        raise InvalidInput("a year is written YYYY", field="year")
    fees = _year_fees(text)
    if fmt == "pdf":
        return pdf_response(
            tax_report(_merchant_name(), text, fees), pdf_filename("cryptopay-tax", merchant_id(), text)
        )
    if fmt != "csv":
        raise NotFound("a tax report is a .csv or a .pdf")
    headers = {"Content-Disposition": f'attachment; filename="tax-{merchant_id()}-{text}.csv"'}
    return Response(fees.as_csv(), mimetype="text/csv", headers=headers)


# --- "Scan to pay" posters --------------------------------------------------------------------------------------


@bp.get("/links/<link_id>/poster.pdf")
def link_poster(link_id: str) -> Response:
    """A poster of one payment link for a till: what it is for, its price (if fixed) and a large QR code."""
    link = runtime().services.payment_links.get_link(link_id)
    if link.merchant_id != merchant_id():
        raise NotFound(f"payment link {link_id} not found")
    url = f"{runtime().settings.public_url}/link/{link.public_id}"
    price = f"{link.amount.asset.code} {link.amount.amount:,}" if link.amount is not None else None
    document = till_poster(_merchant_name(), url, link.description, price)
    return pdf_response(document, pdf_filename("scan-to-pay", link.id))


@bp.get("/poster.pdf")
def store_poster() -> Response:
    """A poster of the store's newest open payment link without a fixed price (the till's: the cashier's amount)."""
    links, now = runtime().services.payment_links, runtime().services.clock.now()
    for link in links.list_links(merchant_id(), limit=100):
        if link.amount is None and link.closed_reason(now) is None:
            return link_poster(link.id)
    raise Conflict("create a payment link without a fixed amount first: the poster's code opens it")


# --- team -------------------------------------------------------------------------------------------------------


def _step_up_to_grant(role: TeamRole) -> None:
    """The form's password or one-time code before giving admin or finance (``TeamRole.granted_with_step_up``),
    as the API's ``X-Step-Up-Token``; a wrong or missing one is audited (``auth.step_up_failed``) and shown."""
    if role.granted_with_step_up:
        step_up_from_form(g.principal)


def _team_page(status: int = 200, **context: Any) -> Response:
    teams = runtime().services.teams
    members = teams.members(merchant_id())
    manager = g.principal.team_role in (None, TeamRole.OWNER, TeamRole.ADMIN)
    invitations = teams.invitations(merchant_id()) if manager else []
    emails = {m.user_id: _email(m.user_id) for m in members}
    open_invitations = [i for i in invitations if i.accepted_at is None and i.revoked_at is None]
    context = {"members": members, "emails": emails, "invitations": open_invitations, "manager": manager, **context}
    return page("dashboard/team.html", status, nav="team", roles=_ROLES, form=request.form, **context)


def _email(user_id: str) -> str:
    user = runtime().services.users.get(user_id)
    return (user.email or user_id) if user is not None else user_id


def _team_action(action: Any) -> Response:
    try:
        action()
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        return _team_page(error.http_status, **refusal(error, language()))
    return redirect("/dashboard/team", 303)


def _role() -> TeamRole:
    role = request.form.get("role", "")
    if role not in _ROLES:
        raise InvalidInput("choose admin, finance or staff", field="role")
    return TeamRole(role)


@bp.get("/team")
def team() -> Response:
    return _team_page()


@bp.post("/team/invitations")
def invite_member() -> Response:
    def invite() -> None:
        email = (request.form.get("email") or "").strip()[:254]
        if not re.fullmatch(EMAIL_PATTERN, email, re.ASCII):  # the core's one email rule (review H11)
            raise InvalidInput(N_("enter the person's email address, such as name@example.com"), field="email")
        role = _role()
        _step_up_to_grant(role)
        runtime().services.teams.invite(merchant_id(), actor=g.principal.id, email=email, role=role, via="dashboard")

    return _team_action(invite)


@bp.post("/team/invitations/<invitation_id>/revoke")
def revoke_invitation(invitation_id: str) -> Response:
    return _team_action(
        lambda: runtime().services.teams.revoke_invitation(merchant_id(), invitation_id, actor=g.principal.id)
    )


@bp.post("/team/members/<user_id>/role")
def change_member_role(user_id: str) -> Response:
    def change() -> None:
        role = _role()
        _step_up_to_grant(role)
        runtime().services.teams.set_role(merchant_id(), user_id, role, actor=g.principal.id, via="dashboard")

    return _team_action(change)


@bp.post("/team/members/<user_id>/remove")
def remove_member(user_id: str) -> Response:
    def remove() -> None:
        if request.form.get("confirm") != "yes":
            raise InvalidInput("tick the box to confirm", field="confirm")
        runtime().services.teams.remove(merchant_id(), user_id, actor=g.principal.id, via="dashboard")

    return _team_action(remove)


# --- KYB --------------------------------------------------------------------------------------------------------


def _kyb_page(status: int = 200, **context: Any) -> Response:
    standing = runtime().services.kyc_review.standing(merchant_id())
    applications = sorted(standing.applications, key=lambda a: a.created_at, reverse=True)
    current = applications[0] if applications else None
    editable = current is not None and current.state in (ApplicationState.DRAFT, ApplicationState.INFORMATION_REQUESTED)
    manager = g.principal.team_role in (None, TeamRole.OWNER, TeamRole.ADMIN)
    can_apply = manager and (current is None or current.state is ApplicationState.REJECTED)
    kinds = [DocumentKind.CERTIFICATE_OF_INCORPORATION.value, DocumentKind.KRA_PIN_CERTIFICATE.value]
    for director in current.directors if current is not None else ():
        kinds += [f"{director.id}:{kind.value}" for kind in director.needed_documents()]
    names = {d.id: d.name for d in current.directors} if current is not None else {}
    return page(
        "dashboard/kyb.html",
        status,
        nav="kyb",
        profile=standing.profile,
        current=current,
        editable=editable and manager,
        can_apply=can_apply,
        kinds=kinds,
        names=names,
        document_mb=MAX_DOCUMENT_MB,
        id_types=[t.value for t in IdType],
        form=request.form,
        **context,
    )


def _kyb_action(action: Any) -> Response:
    try:
        action()
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        return _kyb_page(error.http_status, **refusal(error, language()))
    return redirect("/dashboard/kyb", 303)


@bp.get("/kyb")
def kyb() -> Response:
    return _kyb_page()


def _business() -> BusinessDetails:
    """The form's particulars, checked by the REST edge's own rules (``BusinessApplication.details``)."""
    form = request.form

    def field(name: str, what: str) -> str:
        value = (form.get(name) or "").strip()[:200]
        if not value:
            raise InvalidInput(f"enter the {what}", field=name)
        return value

    try:
        id_type = IdType(form.get("director_id_type", "national_id"))
    except ValueError:
        raise InvalidInput("choose the director's identity document", field="director_id_type") from None
    director = DirectorRequest(
        name=field("director_name", "director's name"),
        id_type=id_type,
        id_number=field("director_id_number", "director's ID number"),
        date_of_birth=field("director_date_of_birth", "director's date of birth"),
        phone=field("director_phone", "director's phone"),
        address=field("director_address", "director's address"),
    )
    return BusinessApplication(
        registered_name=field("registered_name", "registered name"),
        registration_number=field("registration_number", "registration number"),
        kra_pin=field("kra_pin", "KRA PIN").upper(),
        phone=field("phone", "business phone"),
        address=field("address", "business address"),
        directors=[director],
    ).details()


@bp.post("/kyb")
def apply_kyb() -> Response:
    def apply() -> None:
        user = runtime().services.users.get(g.principal.id)
        runtime().services.kyc_review.apply_business(
            merchant_id(), _business(), owner_id=g.principal.id, notify_to=user.email if user else None
        )

    return _kyb_action(apply)


@bp.post("/kyb/<application_id>/documents")
@takes_documents  # scans and photos are larger than the site's usual forms (web.UPLOAD_BODY, once logged in)
def upload_kyb_document(application_id: str) -> Response:
    def upload() -> None:
        whose, _, kind_text = request.form.get("kind", "").rpartition(":")  # "d1:selfie": director d1's selfie
        try:
            kind = DocumentKind(kind_text)
        except ValueError:
            raise InvalidInput("choose the document's kind", field="kind") from None
        file = request.files.get("file")
        if file is None or not file.filename:
            raise InvalidInput("choose the file to upload", field="file")
        data = file.read(MAX_DOCUMENT_BYTES + 1)  # one byte more than the core takes: its own refusal says so
        try:
            runtime().services.kyc_review.upload(merchant_id(), application_id, kind, data, director=whose or None)
        except DocumentRejected as error:
            error.details["field"] = "file"  # the core names the API's field; here, the form's file input
            raise

    return _kyb_action(upload)


@bp.post("/kyb/<application_id>/submit")
def submit_kyb(application_id: str) -> ResponseReturnValue:
    return _kyb_action(lambda: runtime().services.kyc_review.submit(merchant_id(), application_id))
