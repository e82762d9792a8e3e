"""Data protection: a data subject's export (Kenya's Data Protection Act, 2019, the right of access).

``GET /v1/me/export`` is the signed-in person's own export, with a fresh step-up (a stolen access token alone does
not get the whole identity file: review H17; a refusal is audited), and the person is told that it was made (email,
or SMS for a wallet without one). ``GET /v1/admin/privacy/subjects?who=`` finds a data subject by id, email or phone
and ``GET /v1/admin/privacy/subjects/<id>/export`` exports theirs (officers, role ``compliance``). Every lookup and
export is audited with who asked; the export is served as a JSON download and never cached.

``POST /v1/admin/merchants/<id>/close`` ends a merchant's relationship (``MerchantClosing.close``, as
``cryptopay merchants close``): the retention period of its people's personal data and KYB particulars runs from
then, its API keys are revoked and its unpaid invoices cancelled (``cryptopay.core.privacy.closing``). Admins or
compliance officers, with a fresh step-up (the erasure clock starts); audited ``merchant.closed`` with the reason
(and each revocation and cancellation); closing again keeps the first date and winds down what is left.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import NotFound
from cryptopay.core.identity import Role
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.text import TextKind
from flask import Blueprint, Response, request

from cryptopay_http.auth import audited_step_up, current_principal, require, step_up
from cryptopay_http.convert import TEXT_PATTERN, json_response, limits, read_body
from cryptopay_http.openapi import operation
from cryptopay_http.query import Param, query
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("privacy", __name__)
_OFFICERS = [Role.COMPLIANCE]
_NO_STORE = {"Cache-Control": "no-store"}
_WHO = {"type": "string", "minLength": 1, "maxLength": 320, "pattern": TEXT_PATTERN}


def _exports() -> SubjectExports:
    return runtime().services.subject_exports


def _download(body: dict[str, object], subject_id: str) -> Response:
    disposition = f'attachment; filename="cryptopay-export-{subject_id}.json"'
    return json_response(body, headers={**_NO_STORE, "Content-Disposition": disposition})


@attrs.frozen
class SubjectView:
    """A data subject an officer looked up."""

    id: str
    role: str
    disabled_at: datetime | None = attrs.field(
        default=None, metadata={"description": "when the account was disabled (released, or its profile erased)"}
    )


@bp.get("/v1/me/export")
@operation(
    "Your own data, as one JSON document",
    tags=("privacy",),
    description=(
        "Everything the service holds about the caller, as one JSON download (`Content-Disposition: "
        "attachment`, `no-store`): profile, KYC applications, wallet and movements, payouts, sessions and "
        "the audit records about them (a data subject's right of access). Needs a fresh step-up, personal and "
        "merchant accounts alike: an access token alone never gets the whole identity file. The export is itself "
        "audited, and the person is told it was made (an email, or an SMS to a wallet without one)."
    ),
)
@require()
@audited_step_up
def my_export() -> Response:
    me = current_principal().id
    return _download(_exports().export_own(me), me)


@bp.get("/v1/admin/privacy/subjects")
@operation(
    "Find a data subject by id, email or phone",
    response=SubjectView,
    tags=("admin",),
    description=(
        "Looks up a data subject by user id, email or phone (2547...) and returns its id, role and when the account "
        "was disabled (null: usable), for a subject access request. Every lookup is audited, found or not."
    ),
    problems=((NotFound, "nobody matches"),),
)
@require(roles=_OFFICERS)
@query(Param("who", _WHO, required=True, description="a user id, an email or a phone 2547..."))
def find_subject() -> Response:
    who = request.args.get("who", "").strip()
    user = _exports().find(who, actor=f"user:{current_principal().id}")
    return json_response(SubjectView(user.id, user.role.value, user.disabled_at), headers=_NO_STORE)


@bp.get("/v1/admin/privacy/subjects/<subject_id>/export")
@operation(
    "A data subject's export",
    tags=("admin",),
    description=(
        "A data subject's export, as GET /v1/me/export gives the subject itself, for an officer answering "
        "an access request; `reason` is kept in the audit record."
    ),
    problems=((NotFound, "no such data subject"),),
)
@require(roles=_OFFICERS)
@query(Param("reason", description="why the export is made (kept in the audit record)"))
def subject_export(subject_id: str) -> Response:
    reason = request.args.get("reason", "").strip() or None
    exported = _exports().export(subject_id, actor=f"user:{current_principal().id}", reason=reason)
    return _download(exported, subject_id)


@attrs.frozen
class CloseMerchantRequest:
    reason: str = attrs.field(
        metadata=limits(
            "why the relationship ends (kept in the audit record)", min_length=1, max_length=1000, text=TextKind.PROSE
        )
    )


@attrs.frozen
class MerchantClosedView:
    """A closed merchant: when its relationship ended (the retention rules count from then), how many API keys the
    close revoked and unpaid invoices it cancelled, and the new invoices it left because they received something."""

    id: str
    closed_at: datetime
    keys_revoked: int
    invoices_cancelled: int
    invoices_kept: list[str]


@bp.post("/v1/admin/merchants/<merchant_id>/close")
@operation(
    "Close a merchant: its retention period starts",
    request=CloseMerchantRequest,
    response=MerchantClosedView,
    tags=("admin",),
    errors=(404,),
    description=(
        "Records that the relationship with a merchant has ended: its retention periods count from now "
        "(its records are then kept for as long as the law asks, then erased). The reason is kept in the "
        "audit record. Its writes are refused from then on (403 merchant_closed), its API keys are revoked, "
        "and its new invoices that have received nothing are cancelled (a payment still made to one is "
        "recorded paid_late, for an operator to refund). Closing again keeps the first date and winds down "
        "anything left."
    ),
    problems=((NotFound, "no such merchant"),),
)
@require(roles=[Role.ADMIN, Role.COMPLIANCE])
@step_up
def close_merchant(merchant_id: str) -> Response:
    reason = read_body(CloseMerchantRequest).reason
    actor = f"user:{current_principal().id}"
    done = runtime().services.closing.close(merchant_id, actor=actor, reason=reason)
    merchant = done.merchant
    assert merchant.closed_at is not None
    view = MerchantClosedView(
        merchant.id, merchant.closed_at, done.keys_revoked, len(done.invoices_cancelled), list(done.invoices_kept)
    )
    return json_response(view)
