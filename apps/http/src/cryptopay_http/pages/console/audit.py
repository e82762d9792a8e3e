"""The audit log, newest first, with its hash-chain status (admins and compliance officers).

The log is read through the payments unit of work's ``AuditLog``; the whole chain is re-verified
(``core.audit.verify_chain``) only when asked (``?verify=1``), since that reads every record.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptopay.core.audit import AuditProblem, AuditRecord, verify_chain
from cryptopay.core.ports.storage import AuditLog
from flask import Response, request

from cryptopay_http.pages.console import bp
from cryptopay_http.pages.web import page
from cryptopay_http.query import whole_number
from cryptopay_http.runtime import runtime

__all__ = ["audit_log"]

_PAGE = 50
_BATCH = 5000


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
        asked = whole_number(before)  # never int() of unchecked text (R9-5)
        upto = min(asked, last + 1) if asked is not None else last + 1
        records = uow.audit.records(after_seq=max(0, upto - 1 - _PAGE), limit=_PAGE)
        records = [r for r in records if r.seq < upto][::-1]
        if verify:
            problems = verify_chain(_whole_chain(uow.audit), head=head)
    older = records[-1].seq if records and records[-1].seq > 1 else None
    return page("console/audit.html", records=records, head=head, problems=problems, older=older, nav="audit")
