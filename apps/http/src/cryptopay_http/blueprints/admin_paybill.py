"""Paybill payments for staff (admins and compliance officers) through the REST API: the console's paybill desk for
integrators' own tooling (``cryptopay.core.wallets.paybill``).

``GET /v1/admin/paybill-payments`` (``?state=``, paged by id, newest first) and ``GET .../<id>`` (audited reads, the
payer's number masked); ``POST .../<id>/reverify`` asks M-Pesa's Transaction Status again (nothing moves);
``POST .../<id>/credit`` and ``.../return`` propose crediting a wallet or returning the money to the payer by
M-Pesa's Reversal (four-eyes, a step-up); ``.../approve`` (a second officer, a step-up and an ``Idempotency-Key``:
money moves; its proposer is a 409 ``same_officer``) carries out what was proposed, ``.../decline`` clears it. Each
is refused unless M-Pesa's own record shows the payment (re-verify first). The use case audits every action.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, LimitExceeded, NotFound
from cryptopay.core.identity import Role
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.money import Money
from cryptopay.core.text import TextKind
from cryptopay.core.wallets.paybill import MAX_NOTE, Paybill, PaybillPayment, PaybillProposal, PaybillState
from flask import Blueprint, Response, request

from cryptopay_http.auth import audit_security, audited_step_up, current_principal, require
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.officer_desk import FOUR_EYES
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.query import enum_param, query
from cryptopay_http.runtime import runtime

__all__ = ["PaybillPaymentView", "bp"]

bp = Blueprint("admin_paybill", __name__)
_TAGS = ("admin", "paybill")
_STAFF = [Role.ADMIN, Role.COMPLIANCE]
_BASE = "/v1/admin/paybill-payments"


@attrs.frozen
class PaybillPaymentView:
    """A payment to our paybill outside an STK prompt (Daraja C2B), as its confirmation told it and where it went."""

    id: str
    trans_id: str = attrs.field(metadata={"description": "M-Pesa's TransID: the statement's receipt"})
    amount: Money = attrs.field(metadata={"description": "what the confirmation said was paid (KES)"})
    state: str = attrs.field(
        metadata={
            "description": "verifying, unverified (M-Pesa's Transaction Status did not confirm it), credited, "
            "suspended (in the suspense account), released (credited by two officers), returned, reversing (a "
            "Reversal on its way) or reversed"
        }
    )
    reason: str = attrs.field(metadata={"description": "why it waits (unverified or suspended), or why it failed"})
    bill_ref: str = attrs.field(metadata={"description": "the account number the payer typed"})
    payer: str = attrs.field(metadata={"description": "the payer's number, masked"})
    payer_name: str
    paid_at: datetime
    received_at: datetime
    mpesa_record: Money | None = attrs.field(
        metadata={
            "description": "what M-Pesa's own record (a Transaction Status answer) shows paid into our paybill "
            "(null: no such record; a credit needs it to equal `amount`, a return needs one: re-verify first)"
        }
    )
    answers: list[str] = attrs.field(metadata={"description": "what M-Pesa's answers said, oldest first"})
    user_id: str | None = attrs.field(metadata={"description": "the wallet credited"})
    decided_by: str | None
    decided_at: datetime | None
    note: str
    proposal: str | None = attrs.field(
        metadata={"description": "four-eyes: `credit` or `return` proposed, awaiting a second officer"}
    )
    proposed_to: str | None = attrs.field(metadata={"description": "the wallet (user id) a proposed credit is to"})
    proposed_by: str | None
    proposed_at: datetime | None
    proposal_note: str
    reversal_by: str | None = attrs.field(metadata={"description": "who approved the Reversal (reversing, reversed)"})
    reversal_receipt: str | None = attrs.field(metadata={"description": "the Reversal's own M-Pesa receipt"})

    @classmethod
    def of(cls, p: PaybillPayment) -> PaybillPaymentView:
        reversal = p.state in (PaybillState.REVERSING, PaybillState.REVERSED)
        return cls(
            p.id,
            p.trans_id,
            p.kes,
            p.state.value,
            p.reason,
            p.bill_ref,
            mask_msisdn(try_normalize_msisdn(p.msisdn) or p.msisdn),  # never a whole phone
            p.payer,
            p.paid_at,
            p.received_at,
            p.mpesa_record,
            list(p.answers),
            p.user_id,
            p.decided_by,
            p.decided_at,
            p.note,
            p.proposal.value if p.proposal is not None else None,
            p.proposed_to,
            p.proposed_by,
            p.proposed_at,
            p.proposal_note,
            p.reversal_by if reversal else None,
            p.reversal_receipt,
        )


_NOTE = limits("why (kept in the audit log)", min_length=1, max_length=MAX_NOTE, text=TextKind.PROSE)


@attrs.frozen
class PaybillNote:
    note: str = attrs.field(metadata=_NOTE)


@attrs.frozen
class PaybillCreditRequest:
    to: str = attrs.field(
        metadata=limits("the wallet to credit: its phone number, username or user id", min_length=1, max_length=64)
    )
    note: str = attrs.field(metadata=_NOTE)


@attrs.frozen
class PaybillApproval:
    """What the approver read (required: an approval never carries out a proposal its approver did not see)."""

    proposal: PaybillProposal = attrs.field(
        metadata=limits("the proposal read (`credit` or `return`): another one proposed meanwhile is a 409"),
    )
    proposed_to: str | None = attrs.field(
        default=None,
        metadata=limits(
            "the wallet (user id) of the credit read, required for a credit: another one proposed meanwhile is a 409",
            max_length=64,
        ),
    )


def _desk() -> Paybill:
    return runtime().services.paybill


def _officer() -> str:
    return current_principal().id


_UNKNOWN = (NotFound, "no paybill payment with this id (or, a credit, no wallet by that name)")
_WAITING = (InvalidState, "it is not unverified or in suspense, or (approve, decline) nothing is proposed")
_NO_RECORD = (
    InvalidState,
    "it is not unverified or in suspense, nothing is proposed (approve), or M-Pesa's record does not show it paid "
    "into our paybill (for its amount, a credit): re-verify it first",
)
_PROPOSED = (Conflict, "a credit or return is proposed already: approve or decline it first")


@bp.get(_BASE)
@operation(
    "Payments to our paybill outside an STK prompt (staff)",
    response=PageOf(PaybillPaymentView),
    tags=_TAGS,
    description=(
        "Payments customers made to our paybill from the SIM menu or the M-Pesa app (Daraja C2B), newest first; "
        "filter by `state` (`unverified`: M-Pesa's Transaction Status did not confirm them; `suspended`: held in "
        "the suspense account for an officer). The payer's number is masked. Audited `paybill.payments_viewed`."
    ),
)
@require(roles=_STAFF)
@paginated("pbl")
@query(enum_param("state", lambda: [s.value for s in PaybillState], "only payments in this state"))
def paybill_payments() -> Response:
    text = request.args.get("state")
    state = PaybillState(text) if text else None

    def fetch(after: str | None, limit: int) -> list[PaybillPayment]:
        found = _desk().listed(state=state, after=after, limit=limit)
        details = {"count": str(len(found))} | ({"state": state.value} if state is not None else {})
        audit_security("paybill.payments_viewed", "paybill:payments", **details)
        return found

    return json_response(paginate(fetch, PaybillPaymentView.of))


@bp.get(f"{_BASE}/<payment_id>")
@operation(
    "A paybill payment (staff)",
    response=PaybillPaymentView,
    tags=_TAGS,
    description=(
        "One payment: what M-Pesa's confirmation said, why it waits, what M-Pesa's answers said and its record "
        "shows, and any proposal. Audited `paybill.payment_viewed`."
    ),
    problems=((NotFound, "no paybill payment with this id"),),
)
@require(roles=_STAFF)
def paybill_payment(payment_id: str) -> Response:
    found = _desk().get(payment_id)
    audit_security("paybill.payment_viewed", f"paybill:{found.id}")
    return json_response(PaybillPaymentView.of(found))


@bp.post(f"{_BASE}/<payment_id>/reverify")
@operation(
    "Ask M-Pesa's Transaction Status again about an unverified payment, or a suspended one with no M-Pesa record "
    "(staff)",
    request=PaybillNote,
    response=PaybillPaymentView,
    tags=_TAGS,
    description=(
        "Back to `verifying`: the worker sends a new Transaction Status query; if M-Pesa's record now matches, "
        "the payment is booked as any other. A suspended payment with no M-Pesa record (`mpesa_record` null: stored "
        "before payments were verified) stays `suspended`, booked once: a matching answer keeps M-Pesa's record, so "
        "it can be credited or returned. Nothing moves now. Audited `paybill.reverify_requested`."
    ),
    problems=(
        (NotFound, "no paybill payment with this id"),
        (InvalidState, "it is neither unverified nor suspended without M-Pesa's record"),
        (Conflict, "a credit or return is proposed: decline it first"),
    ),
)
@require(roles=_STAFF)
def reverify_paybill_payment(payment_id: str) -> Response:
    note = read_body(PaybillNote).note
    asked = _desk().reverify(payment_id, actor=f"user:{_officer()}", note=note)
    return json_response(PaybillPaymentView.of(asked))


@bp.post(f"{_BASE}/<payment_id>/credit")
@operation(
    "Propose crediting a paybill payment to a wallet (staff; four-eyes)",
    request=PaybillCreditRequest,
    response=PaybillPaymentView,
    tags=_TAGS,
    description=(
        "Proposes crediting an unverified or suspended payment to the wallet `to` names. Refused unless M-Pesa's "
        "own record (a Transaction Status answer) shows it paid into our paybill for its amount: re-verify first. "
        "Nothing moves until a second officer approves it (`.../approve`). Audited `paybill.credit_proposed`; "
        "needs a step-up."
    ),
    problems=(_UNKNOWN, _NO_RECORD, _PROPOSED),
)
@require(roles=_STAFF)
@audited_step_up
def propose_paybill_credit(payment_id: str) -> Response:
    body = read_body(PaybillCreditRequest)
    proposed = _desk().propose_credit(payment_id, body.to, officer=_officer(), note=body.note)
    return json_response(PaybillPaymentView.of(proposed))


@bp.post(f"{_BASE}/<payment_id>/return")
@operation(
    "Propose returning a paybill payment to its payer by M-Pesa's Reversal (staff; four-eyes)",
    request=PaybillNote,
    response=PaybillPaymentView,
    tags=_TAGS,
    description=(
        "Proposes giving an unverified or suspended payment back to the number that paid it by M-Pesa's "
        "Reversal of its TransID (for what M-Pesa's record shows received). Refused unless that record shows the "
        "TransID paid into our paybill: re-verify first. Nothing moves until a second officer approves it "
        "(`.../approve`). Audited `paybill.return_proposed`; needs a step-up."
    ),
    problems=((NotFound, "no paybill payment with this id"), _NO_RECORD, _PROPOSED),
)
@require(roles=_STAFF)
@audited_step_up
def propose_paybill_return(payment_id: str) -> Response:
    note = read_body(PaybillNote).note
    return json_response(PaybillPaymentView.of(_desk().propose_return(payment_id, officer=_officer(), note=note)))


@bp.post(f"{_BASE}/<payment_id>/approve")
@operation(
    "Approve the credit or return another officer proposed (staff; four-eyes)",
    request=PaybillApproval,
    response=PaybillPaymentView,
    tags=_TAGS,
    description=(
        "Carries out the proposal in the approver's name with its note: a credit to the wallet (its limits checked "
        "now; `released`), or a return (M-Pesa's Reversal is sent: `reversing`, then `reversed`, or back where it "
        "waited with the reason if M-Pesa refuses). M-Pesa's record is checked again. The proposer cannot approve "
        "it (409 `same_officer`, audited). Audited `paybill.credit_approved` / `paybill.reversal_requested` naming "
        "both officers; needs a step-up."
    ),
    problems=(
        (NotFound, "no paybill payment with this id"),
        _NO_RECORD,
        (Conflict, "the proposal changed since you read it"),
        *FOUR_EYES,
        (LimitExceeded, "the wallet's limits refuse the credit now"),
    ),
)
@require(roles=_STAFF)
@idempotent
@audited_step_up
def approve_paybill_payment(payment_id: str) -> Response:
    read = read_body(PaybillApproval)
    expected, expected_to = read.proposal, read.proposed_to
    if expected is PaybillProposal.CREDIT and not expected_to:  # the wallet read, or the proposer could re-aim it
        raise InvalidInput("proposed_to: the wallet of the credit you read is required", field="proposed_to")
    approved = _desk().approve(payment_id, officer=_officer(), expected=expected, expected_to=expected_to)
    return json_response(PaybillPaymentView.of(approved))


@bp.post(f"{_BASE}/<payment_id>/decline")
@operation(
    "Decline (or withdraw) the credit or return proposed (staff)",
    request=PaybillNote,
    response=PaybillPaymentView,
    tags=_TAGS,
    description=(
        "Clears the proposal, saying why; nothing moves and the payment waits for a decision. Audited "
        "`paybill.credit_declined` / `paybill.return_declined`."
    ),
    problems=((NotFound, "no paybill payment with this id"), _WAITING),
)
@require(roles=_STAFF)
def decline_paybill_payment(payment_id: str) -> Response:
    note = read_body(PaybillNote).note
    return json_response(PaybillPaymentView.of(_desk().decline(payment_id, officer=_officer(), note=note)))
