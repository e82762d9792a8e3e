"""The admin console ``/console``: for now the audit log with its hash-chain status (more pages come with the
compliance and treasury work).

Staff only (admin or compliance), with a second factor: a staff login without one is an enrolment-only session and
is refused here. The same page session as the dashboard (``/dashboard/login``). The log is read newest first
through the payments unit of work's ``AuditLog``; the whole chain is re-verified (``core.audit.verify_chain``) when
asked (``?verify=1``), since that reads every record.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from cryptopay.core.audit import AuditProblem, AuditRecord, verify_chain
from cryptopay.core.identity import EnrolmentRequired, Forbidden, Role
from cryptopay.core.ports.storage import AuditLog
from flask import Response, g, request
from flask.typing import ResponseReturnValue

from cryptopay_http.pages.session import DASHBOARD, check_form_csrf, page_login
from cryptopay_http.pages.web import page, page_blueprint, redirect
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = page_blueprint("console", __name__, url_prefix="/console")
_STAFF = (Role.ADMIN, Role.COMPLIANCE)
_PAGE = 50
_BATCH = 5000


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    principal = page_login(DASHBOARD)
    if principal is None:
        return redirect(f"/dashboard/login?next={quote(request.full_path.rstrip('?'))}")
    g.principal = principal
    if request.method == "POST":
        check_form_csrf()
    if principal.role not in _STAFF:
        raise Forbidden("the console is for staff")
    if principal.enrolment_only:
        raise EnrolmentRequired("enrol a second factor before using the console")
    return None


def _whole_chain(log: AuditLog) -> Iterator[AuditRecord]:
    after = 0
    while batch := log.records(after_seq=after, limit=_BATCH):
        yield from batch
        after = batch[-1].seq


@bp.get("/audit")
def audit_log() -> Response:
    before = request.args.get("before", "")
    verify = request.args.get("verify") == "1"
    problems: list[AuditProblem] | None = None
    with runtime().services.uow() as uow:
        head = uow.audit.head()
        last = head[0] if head else 0
        upto = min(int(before), last + 1) if before.isdigit() else last + 1
        records = uow.audit.records(after_seq=max(0, upto - 1 - _PAGE), limit=_PAGE)
        records = [r for r in records if r.seq < upto][::-1]
        if verify:
            problems = verify_chain(_whole_chain(uow.audit), head=head)
    older = records[-1].seq if records and records[-1].seq > 1 else None
    return page("console/audit.html", records=records, head=head, problems=problems, older=older, nav="audit")
