"""The audit log, newest first, with its hash-chain status (admins and compliance officers), and its search.

The log is read through the payments unit of work's ``AuditLog``; the whole chain is re-verified
(``core.audit.verify_chain``) only when asked (``?verify=1``), since that reads every record.

The search form (a GET form, so a search is a bookmarkable address: ``?subject=usr_1&action=kyc.&since=2026-03-01``)
runs ``core.audit_search.search_audit``: subject or party id, actor, action prefix, from and to dates (UTC days),
newest first, 50 a page, the "Older records" link keeping the query (``&before=SEQ``). Each search is itself audited
(``audit.searched``, a phone or email searched for masked). A bad input shows the form again, 422, the message in
the page's language on its field, and nothing is searched or audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

from cryptopay.core.audit import AuditProblem, AuditQuery, AuditRecord, verify_chain
from cryptopay.core.audit_search import DESK_ACTIONS, search_audit
from cryptopay.core.errors import CryptopayError
from cryptopay.core.identity import Role
from cryptopay.core.ports.storage import AuditLog
from flask import Response, request

from cryptopay_http.pages.console import acting, bp, officer
from cryptopay_http.pages.i18n import language
from cryptopay_http.pages.refusals import refusal
from cryptopay_http.pages.web import page
from cryptopay_http.query import whole_number
from cryptopay_http.runtime import runtime

__all__ = ["audit_log"]

_PAGE = 50
_BATCH = 5000
FIELDS = ("subject", "actor", "action", "since", "until")


def _whole_chain(log: AuditLog) -> Iterator[AuditRecord]:
    after = 0
    while batch := log.records(after_seq=after, limit=_BATCH):
        yield from batch
        after = batch[-1].seq


def _desk() -> bool:
    """Whether the officer is the compliance desk's, who reads its records too (``audit_search.DESK_ACTIONS``)."""
    return officer().role is Role.COMPLIANCE


@bp.get("/audit")
def audit_log() -> Response:
    typed = {name: request.args.get(name, "").strip() for name in FIELDS}
    if any(typed.values()):
        return _search(typed)
    before = request.args.get("before", "")
    verify = request.args.get("verify") == "1"
    problems: list[AuditProblem] | None = None
    with runtime().services.uow() as uow:
        head = uow.audit.head()
        last = head[0] if head else 0
        asked = whole_number(before)  # never int() of unchecked text (R9-5)
        upto = min(asked, last + 1) if asked is not None else last + 1
        # newest first before ``upto``; an admin's browse leaves the compliance desk's records out, as its search
        # does (R13-2)
        records = uow.audit.search(AuditQuery(hidden=() if _desk() else DESK_ACTIONS), before_seq=upto, limit=_PAGE)
        if verify:
            problems = verify_chain(_whole_chain(uow.audit), head=head)
    older = records[-1].seq if records and records[-1].seq > 1 else None
    more = urlencode({"before": older}) if older else None
    empty = dict.fromkeys(FIELDS, "")
    return page(
        "console/audit.html", records=records, head=head, problems=problems, older=more, asked=empty, nav="audit"
    )


def _search(asked: dict[str, str]) -> Response:
    services = runtime().services
    before = whole_number(request.args.get("before", "")) or None
    try:
        with services.uow() as uow:
            head = uow.audit.head()
            records = search_audit(
                uow.audit,
                officer=acting(),
                at=services.clock.now(),
                before_seq=before,
                subject=asked["subject"],
                actor=asked["actor"],
                action=asked["action"],
                since=asked["since"],
                until=asked["until"],
                desk=_desk(),  # an admin's search leaves the desk's records out (R13-2)
            )
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        shown = refusal(error, language())
        return page(
            "console/audit.html",
            422,
            records=None,
            head=None,
            problems=None,
            older=None,
            asked=asked,
            nav="audit",
            **shown,
        )
    older = records[-1].seq if len(records) == _PAGE and records[-1].seq > 1 else None
    more = urlencode({**{k: v for k, v in asked.items() if v}, "before": older}) if older else None
    return page("console/audit.html", records=records, head=head, problems=None, older=more, asked=asked, nav="audit")
