"""``GET /v1/admin/audit``: search the audit log (admins and compliance officers; review12 R12-6).

The same search as the console's ``/console/audit`` form and ``cryptopay audit search``
(``core.audit_search.search_audit``): ``subject`` (a subject such as ``user:usr_1``, or a party id ``usr_1`` for its
``user:``/``kyc:``/``wallet:``/``merchant:`` subjects), ``actor``, ``action`` (a prefix), ``since``/``until`` (UTC
days, both included, or ISO times with an offset), newest first, ``limit`` records (1 to 500, default 50); the
answer's ``before`` is the next page's ``?before=`` (null on the last). Each search is itself audited
(``audit.searched``, a phone or email searched for masked). A bad date, dates the wrong way round or an over-long
value is a 422 problem naming the parameter, and nothing is searched or audited. Sealed details come back as stored.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.audit import AuditRecord
from cryptopay.core.audit_search import DEFAULT_LIMIT, MAX_LIMIT, MAX_TEXT, search_audit
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Role
from flask import Blueprint, Response, request

from cryptopay_http.auth import current_principal, require
from cryptopay_http.convert import TEXT_PATTERN, json_response
from cryptopay_http.openapi import operation
from cryptopay_http.query import Param, query
from cryptopay_http.runtime import runtime

__all__ = ["AuditSearchView", "bp"]

bp = Blueprint("admin_audit", __name__)

_TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": TEXT_PATTERN}
_WHEN = {"type": "string", "maxLength": 40, "pattern": TEXT_PATTERN}


@attrs.frozen
class AuditRecordView:
    """One audit record: its position, time, who acted, what they did, to what, and its details."""

    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, str]

    @classmethod
    def of(cls, r: AuditRecord) -> AuditRecordView:
        return cls(r.seq, r.id, r.at, r.actor, r.action, r.subject, dict(r.details))


@attrs.frozen
class AuditSearchView:
    """A page of matching records, newest first; ``before``: the next page's ``?before=`` (null on the last)."""

    records: list[AuditRecordView]
    before: int | None


@bp.get("/v1/admin/audit")
@operation(
    "Search the audit log (admins and compliance officers)",
    response=AuditSearchView,
    tags=("admin", "compliance"),
    errors=(403,),
    description=(
        "Audit records matching every criterion given, newest first: `subject` (a subject such as `user:usr_1`, "
        "or a party id for all its subjects), `actor`, `action` (a prefix: `kyc.`), `since` and `until` (UTC days "
        "YYYY-MM-DD, both included, or ISO times with an offset). Page with `before`. Each search is audited. "
        "The compliance desk's records (actions `compliance.`, `aml.`, `kyc.`) are returned to compliance officers "
        "only: an admin's search leaves them out."
    ),
    problems=(
        (
            InvalidInput,
            "`since` or `until` is not a day (YYYY-MM-DD) or an ISO time with an offset, or `since` is after "
            "`until` (the problem names the field)",
        ),
    ),
)
@require(roles=[Role.ADMIN, Role.COMPLIANCE])
@query(
    Param("subject", _TEXT, description="a subject (user:usr_1, payout:po_1) or a party id (usr_1)"),
    Param("actor", _TEXT, description="who acted, exactly (user:usr_9, ops:amina)"),
    Param("action", _TEXT, description="the action begins with this (kyc.)"),
    Param("since", _WHEN, description="from this UTC day (YYYY-MM-DD) or ISO time"),
    Param("until", _WHEN, description="to this UTC day, included (YYYY-MM-DD), or ISO time (excluded)"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, description="at most this many records"),
    Param(
        "before",
        {"type": "integer", "minimum": 1, "maximum": 2**62},
        description="only records before this seq (the next page)",
    ),
)
def audit_search() -> Response:
    services = runtime().services
    principal = current_principal()
    args = request.args
    limit = int(args.get("limit", DEFAULT_LIMIT))  # checked against the schema above: a whole number in range
    before = int(args["before"]) if "before" in args else None
    with services.uow() as uow:
        records = search_audit(
            uow.audit,
            officer=f"{principal.kind.value}:{principal.id}",
            at=services.clock.now(),
            subject=args.get("subject", ""),
            actor=args.get("actor", ""),
            action=args.get("action", ""),
            since=args.get("since", ""),
            until=args.get("until", ""),
            before_seq=before,
            limit=limit,
            desk=principal.role is Role.COMPLIANCE,  # an admin's search leaves the desk's records out (R13-2)
        )
    older = records[-1].seq if len(records) == limit and records[-1].seq > 1 else None
    return json_response(AuditSearchView([AuditRecordView.of(r) for r in records], older))
