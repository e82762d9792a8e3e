"""The KYC/KYB queue for compliance officers: claim, approve, reject with a reason, ask for more information, and
read the documents, check each director of a business (``/console/kyc``).

The same use cases as ``/v1/admin/kyc/...`` and ``cryptopay compliance``: ``KycReview`` records every step in the
audit log, reads of an application's particulars (``application``) and of each document (``document``) included,
and holds four-eyes (the top personal tier and every KYB need two different officers: the officer who gave the first
approval is refused the second, 409). Another account that gave the same ID document is a warning on the queue
and on the application, and the approval is refused until the reviewing officer links them with a reason. A
document is served only here, to an officer, with its own content type, ``no-store`` and a CSP that lets it run
nothing; a PDF is a download, never rendered inside our origin.

>>> _text("  the ID number does not match  ", field="reason")
'the ID number does not match'
"""

from __future__ import annotations

from typing import Any

from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.kyc.applications import KycApplication
from cryptopay.core.kyc.review import KycReview
from flask import Response, request

from cryptopay_http.pages.console import bp, officer, refused
from cryptopay_http.pages.web import page, redirect
from cryptopay_http.runtime import runtime

__all__ = ["kyc_queue"]

_PAGE = 50
_MAX_TEXT = 1000
_DOCUMENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"


def _review() -> KycReview:
    return runtime().services.kyc_review


def _needed(application: KycApplication) -> int:
    return _review().policy.tier(application.kind, application.level).approvals_required


def _text(value: str | None, *, field: str) -> str:
    """The officer's reason or message: trimmed, 1 to 1000 characters (the REST route's limits)."""
    text = (value or "").strip()
    if not text or len(text) > _MAX_TEXT:
        raise InvalidInput(f"write 1 to {_MAX_TEXT} characters", field=field)
    return text


@bp.get("/kyc")
def kyc_queue() -> Response:
    """Applications waiting for an officer or being reviewed, oldest first (``?after=`` the last id seen)."""
    after = request.args.get("after") or None
    rows = _review().queue(after=after, limit=_PAGE + 1)
    more = rows[_PAGE - 1].id if len(rows) > _PAGE else None
    rows = rows[:_PAGE]
    needed = {a.id: _needed(a) for a in rows}
    return page("console/kyc_queue.html", rows=rows, needed=needed, more=more, me=officer().id, nav="kyc")


def _detail(application_id: str, status: int = 200, **context: Any) -> Response:
    application = _review().application(officer().id, application_id)  # audited: kyc.application_viewed
    me = officer().id
    return page(
        "console/kyc_application.html",
        status,
        a=application,
        needed=_needed(application),
        missing=[k.value for k in application.missing_documents()],
        approved_by_me=me in application.approvals,
        me=me,
        nav="kyc",
        **context,
    )


@bp.get("/kyc/<application_id>")
def kyc_application(application_id: str) -> Response:
    return _detail(application_id)


def _decided(application_id: str, step: str) -> Response:
    """Run one officer step on the application, then show it (POST/redirect/GET); a refusal shows it with why."""
    me = officer().id

    def act() -> Response:
        if step == "claim":
            _review().claim(me, application_id)
        elif step == "approve":
            _review().approve(me, application_id)
        elif step.startswith("director:"):
            _review().verify_director(me, application_id, step.removeprefix("director:"))
        elif step == "link_id":
            _review().link_id(me, application_id, _text(request.form.get("id_link_reason"), field="id_link_reason"))
        elif step == "reject":
            _review().reject(me, application_id, _text(request.form.get("reason"), field="reason"))
        else:
            message = _text(request.form.get("message"), field="message")
            _review().request_information(me, application_id, message)
        return redirect(f"/console/kyc/{application_id}")

    return refused(act, lambda status, message: _detail(application_id, status, error=message))


@bp.post("/kyc/<application_id>/claim")
def kyc_claim(application_id: str) -> Response:
    return _decided(application_id, "claim")


@bp.post("/kyc/<application_id>/approve")
def kyc_approve(application_id: str) -> Response:
    return _decided(application_id, "approve")


@bp.post("/kyc/<application_id>/link-id")
def kyc_link_id(application_id: str) -> Response:
    """The reviewing officer links the other accounts that gave the applicant's ID, with a reason (audited)."""
    return _decided(application_id, "link_id")


@bp.post("/kyc/<application_id>/reject")
def kyc_reject(application_id: str) -> Response:
    return _decided(application_id, "reject")


@bp.post("/kyc/<application_id>/directors/<director_id>/verify")
def kyc_verify_director(application_id: str, director_id: str) -> Response:
    """The reviewing officer checked this director's particulars against their documents (audited)."""
    return _decided(application_id, f"director:{director_id}")


@bp.post("/kyc/<application_id>/request-information")
def kyc_request_information(application_id: str) -> Response:
    return _decided(application_id, "request_information")


@bp.get("/kyc/<application_id>/documents/<document_id>")
def kyc_document(application_id: str, document_id: str) -> Response:
    """The viewer: the document's particulars and the picture (its content is read, and audited, by the image)."""
    application = _review().application(officer().id, application_id)
    found = [d for d in application.documents if d.id == document_id]
    if not found:
        raise NotFound(f"no document {document_id} in this application")
    return page("console/kyc_document.html", a=application, d=found[0], nav="kyc")


@bp.get("/kyc/<application_id>/documents/<document_id>/content")
def kyc_document_content(application_id: str, document_id: str) -> Response:
    """The document's bytes for an officer (audited before it is read: ``kyc.document_viewed``)."""
    try:
        document, content = _review().document(officer().id, application_id, document_id)
    except InvalidInput:
        raise NotFound(f"no document {document_id}") from None
    response = Response(content, mimetype=document.content_type)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = _DOCUMENT_CSP
    extension = document.content_type.rpartition("/")[2]
    disposition = "attachment" if document.content_type == "application/pdf" else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{document.kind.value}.{extension}"'
    return response
