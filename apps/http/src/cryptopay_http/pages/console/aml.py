"""AML alerts and cases for compliance officers (``/console/alerts``, ``/console/cases``).

The same ``Monitoring`` and ``Reporting`` use cases as ``/v1/admin/compliance/...`` and ``cryptopay compliance
cases``: officers filter the rules' alerts, group open alerts of one party into a case, assign it, add notes, move
its status (escalating or closing needs a note), download its suspicious transaction report (goAML XML, each export
kept on the case, or CSV) and, once filed with the FRC through goAML, record the filing (report id, date): the one
way a case is reported (R12-8). Each of these is audited by the use case (``compliance.case_*``,
``compliance.str_exported``, ``compliance.str_filed``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from cryptopay.core.compliance.cases import REFERENCE_MAX, AlertStatus, CaseStatus, filing_date, read_details
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.reports import Reporter, str_csv
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.identity import Role
from cryptopay.core.system import NAIROBI
from flask import Response, request

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import PAGE, bp, form_note, officer, page_of, refused
from cryptopay_http.pages.web import page, redirect
from cryptopay_http.runtime import runtime

__all__ = ["aml_alerts", "aml_cases"]

_RENTITY = 64
S = TypeVar("S", AlertStatus, CaseStatus)


def _monitoring() -> Monitoring:
    return runtime().services.monitoring


def _status(kind: type[S]) -> S | None:
    text = request.args.get("status") or ""
    try:
        return kind(text) if text else None
    except ValueError:
        raise InvalidInput(f"no such status: {text}", field="status") from None


def _alerts_page(status: int = 200, **context: Any) -> Response:
    wanted, after = _status(AlertStatus), request.args.get("after") or None
    rows, more = page_of(
        _monitoring().alerts(status=wanted, after=after, limit=PAGE + 1),
        lambda a: a.id,
    )
    audit_security("compliance.alerts_viewed", "compliance:alerts", **read_details(wanted, rows, after=after))
    statuses = [s.value for s in AlertStatus]
    return page(
        "console/alerts.html", status, rows=rows, more=more, wanted=wanted, statuses=statuses, nav="alerts", **context
    )


@bp.get("/alerts")
def aml_alerts() -> Response:
    """The rules' alerts, oldest first, by status; open ones can be grouped into a case."""
    return _alerts_page()


@bp.post("/alerts/case")
def aml_open_case() -> Response:
    """A case from the ticked open alerts (of one party), assigned to the officer."""

    def act() -> Response:
        case = _monitoring().open_case(officer().id, request.form.getlist("alert"))
        return redirect(f"/console/cases/{case.id}")

    return refused(act, lambda status, message: _alerts_page(status, error=message))


@bp.get("/cases")
def aml_cases() -> Response:
    wanted, after = _status(CaseStatus), request.args.get("after") or None
    rows, more = page_of(
        _monitoring().cases(status=wanted, after=after, limit=PAGE + 1),
        lambda c: c.id,
    )
    audit_security("compliance.cases_viewed", "compliance:cases", **read_details(wanted, rows, after=after))
    now = runtime().services.clock.now()
    statuses = [s.value for s in CaseStatus]
    return page("console/cases.html", rows=rows, more=more, wanted=wanted, statuses=statuses, now=now, nav="cases")


def _case_page(case_id: str, status: int = 200, **context: Any) -> Response:
    case, alerts = _monitoring().case_alerts(case_id, officer=officer().id)  # never one's own (R12)
    audit_security("compliance.case_viewed", f"case:{case.id}")  # names, numbers, amounts: an audited read
    now = runtime().services.clock.now()
    # reported: by the filing form only (R12-8)
    moves = [s.value for s in CaseStatus if s not in (case.status, CaseStatus.OPEN, CaseStatus.REPORTED)]
    today = now.astimezone(NAIROBI).date()
    return page(
        "console/case.html",
        status,
        c=case,
        alerts=alerts,
        overdue=case.overdue(now),
        moves=moves,
        today=today,
        reference_max=REFERENCE_MAX,
        nav="cases",
        **context,
    )


@bp.get("/cases/<case_id>")
def aml_case(case_id: str) -> Response:
    """A case: its party, its alerts with their evidence, its notes, and what an officer can do next."""
    return _case_page(case_id)


def _changed(case_id: str, change: Any) -> Response:
    def act() -> Response:
        change()
        return redirect(f"/console/cases/{case_id}")

    return refused(act, lambda status, message: _case_page(case_id, status, error=message))


@bp.post("/cases/<case_id>/notes")
def aml_note(case_id: str) -> Response:
    return _changed(case_id, lambda: _monitoring().note(officer().id, case_id, form_note("text", required=True) or ""))


@bp.post("/cases/<case_id>/status")
def aml_move(case_id: str) -> Response:
    def move() -> None:
        text = request.form.get("status") or ""
        try:
            status = CaseStatus(text)
        except ValueError:
            raise InvalidInput(f"no such status: {text}", field="status") from None
        _monitoring().move(officer().id, case_id, status, form_note("note", required=False))

    return _changed(case_id, move)


@bp.post("/cases/<case_id>/filing")
def aml_file(case_id: str) -> Response:
    """Record the case's STR as filed with the FRC (goAML report id, filing date): the case is then reported."""

    def file() -> None:
        filed_on = filing_date(request.form.get("filed_on") or "")
        reference = request.form.get("reference") or ""
        _monitoring().file(officer().id, case_id, reference, filed_on, form_note("note", required=False))

    return _changed(case_id, file)


def _compliance_officer(who: str) -> str:
    """The user id of a compliance officer named by email or id (``NotFound`` otherwise)."""
    users = runtime().services.users
    text = who.strip()
    user = users.by_email(text.lower()) if "@" in text else users.get(text)
    if user is None or user.role is not Role.COMPLIANCE:
        raise NotFound(f"no compliance officer {text}", field="assignee")
    return user.id


@bp.post("/cases/<case_id>/assign")
def aml_assign(case_id: str) -> Response:
    def assign() -> None:
        _monitoring().assign(officer().id, case_id, _compliance_officer(request.form.get("assignee") or ""))

    return _changed(case_id, assign)


@bp.post("/cases/<case_id>/str")
def aml_str(case_id: str) -> Response:
    """The case's suspicious transaction report as a download (goAML XML or CSV; the export is audited)."""

    def export() -> Response:
        rentity = (request.form.get("rentity_id") or "").strip()
        if not rentity or len(rentity) > _RENTITY or not rentity.isalnum():
            raise InvalidInput("the reporting entity's goAML id: letters and digits", field="rentity_id")
        fmt = request.form.get("format") or "xml"
        if fmt not in ("xml", "csv"):
            raise InvalidInput("xml or csv", field="format")
        services = runtime().services
        user = services.users.get(officer().id)
        email = (user.email if user is not None else None) or officer().id
        reporter = Reporter(rentity_id=rentity, officer_name=user.display_name if user else None, officer_email=email)
        case = _monitoring().case(case_id)
        party_name = services.kyc_review.party_name(case.party_id)
        if fmt == "xml":  # the XML that is filed: its export is kept on the case (R12-8)
            report, body = services.reporting.goaml_export(
                case_id, reporter, party_name=party_name, officer=officer().id
            )
        else:
            report = services.reporting.suspicious_transaction_report(
                case_id, reporter, party_name=party_name, officer=officer().id
            )
            body = str_csv(report).encode()
        mimetype = "application/xml" if fmt == "xml" else "text/csv"
        response = Response(body, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{report.reference}.{fmt}"'
        response.headers["Cache-Control"] = "no-store"
        return response

    return refused(export, lambda status, message: _case_page(case_id, status, error=message))
