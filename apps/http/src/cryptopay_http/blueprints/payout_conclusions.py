"""Payouts whose outcome stayed unknown, concluded from M-Pesa's own record by two people (admins; R10-4).

A payout ``unknown`` past the bound (no result, no Transaction Status answer, or a B2B request with no id to ask
by) is a reconciliation difference until it is concluded: ``GET /v1/admin/payouts/unresolved`` lists them with any
conclusion proposed; ``POST /v1/admin/payouts/<id>/conclusion`` proposes one (``failed``: M-Pesa shows no such
payment; ``completed`` with M-Pesa's receipt), naming the record read as its evidence (a step-up);
``statement``, the payout Short Code's M-Pesa statement as downloaded (the CSV ``cryptopay reconcile`` reads, one string
per line), is read by the core: it must cover the payout's send, a conclusion it contradicts is a 409
``statement_contradicts``, a completion naming a payment another open payout could equally be (review12 R12-9: the same
amount and paybill, no account number on its row) a 409 ``statement_ambiguous``; what it shows of the payout is kept
with the proposal (``statement`` in the answer). ``.../conclusion/approve`` carries it out in a second admin's name (a
step-up: money moves back or out of the in-flight account); ``.../conclusion/decline`` clears it. The proposer approving
is a 409 ``same_officer``. The shell lists and declines, never proposes nor approves (exit 5, audited: it cannot
prove who is at the keyboard).

A bank transfer (paid by an operator from the bank file) completes the same way (R10-7): ``GET
/v1/admin/payouts/bank-transfers`` lists those awaiting it with any reference proposed, ``POST
/v1/admin/payouts/<id>/bank-confirmation`` proposes it with the bank's reference, ``.../bank-confirmation/approve``
carries it out in a second admin's name (each a step-up; the proposer approving is a 409 ``same_officer``),
``.../conclusion/decline`` clears a wrong proposal; ``cryptopay payouts confirm-bank`` exits 5, audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.identity import Role
from cryptopay.core.money import Money
from cryptopay.core.payouts import Payout
from cryptopay.core.payouts.model import ConclusionOutcome, StatementEvidence
from cryptopay.core.payouts.service import SamePerson, StatementAmbiguous, StatementContradicts
from cryptopay.core.reconciliation import parse_statement
from cryptopay.core.text import TextKind
from flask import Blueprint, Response, request

from cryptopay_http.auth import audit_security, audited_step_up, not_found, require
from cryptopay_http.blueprints.admin import STATEMENT_BODY_BYTES
from cryptopay_http.blueprints.payouts import PayoutView
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.officer_desk import RELATED
from cryptopay_http.openapi import operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.payments_edge import actor, payments

__all__ = ["bp"]

bp = Blueprint("payout_conclusions", __name__)
_TAGS = ("admin", "payouts")


@attrs.frozen
class StatementShown:
    """What the statement uploaded with a proposal showed of its payout (the file itself is not kept: it names every
    payee of its period; its sha256 identifies it)."""

    sha256: str
    shortcode: str
    covers_from: datetime
    covers_to: datetime
    payments: int = attrs.field(metadata={"description": "payment rows (B2C, B2B) on the statement"})
    receipt: str | None = attrs.field(metadata={"description": "the payment of a completion (none for a failure)"})
    paid_at: datetime | None
    paid: Money | None

    @classmethod
    def of(cls, e: StatementEvidence | None) -> StatementShown | None:
        if e is None:
            return None
        return cls(e.digest, e.shortcode, e.covers_from, e.covers_to, e.payments, e.receipt, e.paid_at, e.paid)


@attrs.frozen
class ConclusionView:
    """A payout whose outcome is unknown, and the conclusion proposed for it (if any)."""

    payout: PayoutView
    unknown_since: datetime | None
    kind: str = attrs.field(metadata={"description": "settlement, sale (a wallet's), bill (a wallet's), remittance"})
    proposed_outcome: str | None = attrs.field(metadata={"description": "failed or completed, once proposed"})
    proposed_receipt: str | None
    evidence: str | None = attrs.field(metadata={"description": "the M-Pesa record the proposal rests on"})
    proposed_by: str | None
    proposed_at: datetime | None
    approved_by: str | None
    statement: StatementShown | None = attrs.field(
        metadata={"description": "what the statement uploaded as evidence showed of the payout, if one was"}
    )

    @classmethod
    def of(cls, p: Payout) -> ConclusionView:
        c = p.conclusion
        return cls(
            PayoutView.of(p),
            p.unknown_since,
            p.kind.value,
            None if c is None else c.outcome.value,
            None if c is None else c.receipt,
            None if c is None else c.evidence,
            None if c is None else c.by,
            None if c is None else c.at,
            None if c is None else c.approved_by,
            None if c is None else StatementShown.of(c.statement),
        )


@attrs.frozen
class ConclusionRequest:
    outcome: ConclusionOutcome = attrs.field(
        metadata={"description": "failed (M-Pesa shows no such payment) or completed (M-Pesa paid it)"}
    )
    note: str = attrs.field(metadata=limits("why (kept in the audit log)", min_length=1, max_length=500))
    evidence: str = attrs.field(
        default="",
        metadata=limits(
            "the M-Pesa record read: the statement (Short Code, period) or a Transaction Status answer; may be left "
            "out when `statement` is given",
            max_length=500,
            text=TextKind.PROSE,
        ),
    )
    receipt: str | None = attrs.field(
        default=None, metadata={"description": "M-Pesa's receipt of the payment, for completed (none for failed)"}
    )
    statement: list[str] | None = attrs.field(
        default=None,
        metadata=limits(
            "the payout Short Code's M-Pesa statement as downloaded from the org portal (CSV, one string per line, "
            "with its Time Period line), covering the payout's send (and, for failed, the unknown bound after it)",
            min_items=1,
            max_items=100_000,
        ),
    )


@attrs.frozen
class ApprovalRequest:
    """What the approver read (required, R9-1): a conclusion withdrawn and proposed again with another outcome or
    receipt after it was read is a 409, and nothing moves."""

    outcome: ConclusionOutcome = attrs.field(
        metadata={"description": "the outcome read (failed or completed): another one proposed meanwhile is a 409"}
    )
    receipt: str | None = attrs.field(
        default=None,
        metadata=limits(
            "the receipt read, for completed (none for failed): another one proposed meanwhile is a 409",
            max_length=20,
        ),
    )


@attrs.frozen
class DeclineRequest:
    note: str = attrs.field(metadata=limits("why (kept in the audit log)", min_length=1, max_length=500))


_REFERENCE = limits(
    "the bank's reference of the transfer (letters, digits, '-', '/', '.')", min_length=1, max_length=64
)


@attrs.frozen
class BankConfirmationRequest:
    reference: str = attrs.field(metadata=_REFERENCE)
    note: str = attrs.field(default="", metadata=limits("anything the approver should know (audited)", max_length=500))


@attrs.frozen
class BankApprovalRequest:
    """The reference the approver read on the bank's record: another proposed meanwhile is a 409."""

    reference: str = attrs.field(metadata=_REFERENCE)


_NEXT = "the cursor of the next page (`?cursor=`), null on the last: the list goes on past a page (R13-15)"


@attrs.frozen
class UnresolvedList:
    """Payouts unknown past the bound, oldest first, a page at a time."""

    items: list[ConclusionView]
    next_cursor: str | None = attrs.field(default=None, metadata={"description": _NEXT})


T = TypeVar("T")


def on_payout(payout_id: str, decide: Callable[[], T]) -> T:
    """``decide`` on payout ``payout_id``: the core's ``NotFound`` answered as the API's one not-found of a payout
    (every decision route here and in ``payout_receipts``)."""
    try:
        return decide()
    except NotFound:
        raise not_found("payout", payout_id) from None


def _page(listing: Callable[..., list[Payout]], after: str | None, limit: int) -> list[Payout]:
    """A page of a payouts listing after the payout of the ``cursor`` (one that names no payout: a 422 on it)."""
    try:
        return listing(limit=limit, after=after)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="cursor") from None


_PROBLEMS = (
    (NotFound, "no payout with this id"),
    (
        InvalidInput,
        "no note, no evidence nor statement, a receipt missing or malformed, a receipt given for a failure, or a "
        "statement that cannot speak of the payout (unreadable, another Short Code's, no period, not covering its "
        "send, or for a failure not the bound after it)",
    ),
    (Refused, "the payout is not unknown, or is unknown for less than the bound (Transaction Status is still asked)"),
    (StatementContradicts, "the statement shows otherwise: the payment present for a failure, or not as proposed"),
    (
        StatementAmbiguous,
        "the statement's payment named could equally be another open payout's (same amount and party, no account "
        "number on its row tells them apart): it does not show which M-Pesa paid",
    ),
    (Conflict, "a conclusion is proposed already, or the receipt is another payout's already"),
)
_DECIDED = (
    (NotFound, "no payout with this id"),
    (InvalidState, "no conclusion is proposed, or M-Pesa's answer decided the payout meanwhile"),
)


@bp.get("/v1/admin/payouts/unresolved")
@operation(
    "Payouts unknown past the bound, to conclude from M-Pesa's record (admins)",
    response=UnresolvedList,
    tags=_TAGS,
    description=(
        "Every payout (a merchant's settlement, a wallet's sale or bill, a remittance) whose outcome is unknown for "
        "longer than the bound, with the conclusion proposed for it, if any: each is a reconciliation difference "
        "(`payouts-unresolved`) until two admins conclude it. Oldest first, a page at a time: `next_cursor` "
        "passed back as `cursor` gives the next. Audited."
    ),
)
@require(roles=[Role.ADMIN])
@paginated("po")
def unresolved() -> Response:
    def fetch(after: str | None, limit: int) -> list[Payout]:
        found = _page(payments().payouts.unresolved, after, limit)
        audit_security("payouts.unresolved_viewed", "payouts:unresolved", count=str(min(len(found), limit - 1)))
        return found

    page = paginate(fetch, ConclusionView.of)
    return json_response(UnresolvedList(page.data, page.next_cursor))


@bp.post("/v1/admin/payouts/<payout_id>/conclusion")
@operation(
    "Propose concluding an unknown payout from M-Pesa's record (admins; four-eyes)",
    request=ConclusionRequest,
    response=ConclusionView,
    tags=_TAGS,
    description=(
        "Proposes ending a payout unknown past the bound: `failed` (M-Pesa's statement covering its send shows no "
        "such payment, or Transaction Status said so) or `completed` with M-Pesa's `receipt`. With `statement` (the "
        "payout Short Code's statement CSV) the statement itself is checked: it must cover the send (and, for "
        "`failed`, the bound after it up to now), one showing otherwise is a 409 `statement_contradicts`, a payment "
        "another open payout could equally be (no account number telling them apart) a 409 `statement_ambiguous`, "
        "and what it shows of the payout is kept with the proposal. Nothing moves until a "
        "second admin approves it (`.../conclusion/approve`). Audited `payout.conclusion_proposed`; needs a step-up."
    ),
    problems=_PROBLEMS,
)
@require(roles=[Role.ADMIN])
@audited_step_up
def propose(payout_id: str) -> Response:
    request.max_content_length = STATEMENT_BODY_BYTES
    body = read_body(ConclusionRequest)
    statement = parse_statement("\n".join(body.statement)) if body.statement is not None else None
    proposed = on_payout(
        payout_id,
        lambda: payments().payouts.propose_conclusion(
            payout_id,
            outcome=body.outcome,
            receipt=body.receipt,
            evidence=body.evidence,
            note=body.note,
            by=actor(),
            statement=statement,
        ),
    )
    return json_response(ConclusionView.of(proposed))


@bp.post("/v1/admin/payouts/<payout_id>/conclusion/approve")
@operation(
    "Approve the conclusion another admin proposed on an unknown payout (admins; four-eyes)",
    request=ApprovalRequest,
    response=ConclusionView,
    tags=_TAGS,
    description=(
        "Carries out the conclusion in the approver's name: `failed` voids the payout's hold (the money is back "
        "where it came from and the payout may be retried), `completed` posts it with the receipt. The proposer "
        "cannot approve it (409 `same_officer`, audited). The body names the `outcome` and `receipt` read: another "
        "conclusion proposed since (withdrawn and proposed again) is a 409 and nothing moves. Audited "
        "`payout.concluded` naming both; needs a step-up."
    ),
    problems=(
        *_DECIDED,
        (InvalidInput, "no outcome read, or a completion approved without the receipt read"),
        (SamePerson, "you proposed it: a second admin approves it"),
        *RELATED,
        (
            Conflict,
            "another conclusion (outcome or receipt) is proposed now, or its receipt was booked on another payout",
        ),
    ),
)
@require(roles=[Role.ADMIN])
@audited_step_up
def approve(payout_id: str) -> Response:
    read = read_body(ApprovalRequest, optional=True)  # no body: the 422 naming what was read
    if read.outcome is ConclusionOutcome.COMPLETED and not (read.receipt or "").strip():
        raise InvalidInput("approving a completion names the receipt read", field="receipt")
    done = on_payout(
        payout_id,
        lambda: payments().payouts.approve_conclusion(
            payout_id, by=actor(), outcome=read.outcome, receipt=read.receipt
        ),
    )
    return json_response(ConclusionView.of(done))


@bp.post("/v1/admin/payouts/<payout_id>/conclusion/decline")
@operation(
    "Decline (or withdraw) the conclusion or bank confirmation proposed on a payout (admins)",
    request=DeclineRequest,
    response=ConclusionView,
    tags=_TAGS,
    description=(
        "Clears the proposal (a conclusion, or a bank transfer's confirmation), saying why; nothing moves and the "
        "payout stays as it is (unknown, or awaiting its transfer). Audited."
    ),
    problems=(*_DECIDED, (InvalidInput, "no note")),
)
@require(roles=[Role.ADMIN])
def decline(payout_id: str) -> Response:
    note = read_body(DeclineRequest).note
    declined = on_payout(payout_id, lambda: payments().payouts.decline_conclusion(payout_id, by=actor(), note=note))
    return json_response(ConclusionView.of(declined))


@attrs.frozen
class BankTransferList:
    """Bank transfers awaiting their confirmation, oldest first, each with the one proposed (if any), a page at a
    time."""

    items: list[ConclusionView]
    next_cursor: str | None = attrs.field(default=None, metadata={"description": _NEXT})


@bp.get("/v1/admin/payouts/bank-transfers")
@operation(
    "Bank transfers awaiting their confirmation by two admins (admins)",
    response=BankTransferList,
    tags=_TAGS,
    description=(
        "Every bank-transfer payout (from the bank file) not yet confirmed, with the bank reference proposed for it, "
        "if any (`proposed_receipt`, `proposed_by`): each completes when a second admin approves it "
        "(`.../bank-confirmation/approve`). Oldest first, a page at a time: `next_cursor` passed back as `cursor` "
        "gives the next. Audited (payees' bank accounts)."
    ),
)
@require(roles=[Role.ADMIN])
@paginated("po")
def bank_transfers() -> Response:
    def fetch(after: str | None, limit: int) -> list[Payout]:
        found = _page(payments().payouts.awaiting_bank_transfer, after, limit)
        audit_security("payouts.bank_transfers_viewed", "payouts:bank", count=str(min(len(found), limit - 1)))
        return found

    page = paginate(fetch, ConclusionView.of)
    return json_response(BankTransferList(page.data, page.next_cursor))


@bp.post("/v1/admin/payouts/<payout_id>/bank-confirmation")
@operation(
    "Propose that a bank transfer left our bank account (admins; four-eyes)",
    request=BankConfirmationRequest,
    response=ConclusionView,
    tags=_TAGS,
    description=(
        "Proposes completing a bank-transfer payout (from the bank file) with the bank's `reference`. Nothing moves "
        "until a second admin approves it (`.../bank-confirmation/approve`); `.../conclusion/decline` clears it. "
        "Audited `payout.bank_confirmation_proposed`; needs a step-up."
    ),
    problems=(
        (NotFound, "no payout with this id"),
        (InvalidInput, "a reference that is not 1 to 64 letters, digits, '-', '/' or '.'"),
        (Refused, "the payout is paid over M-Pesa, or is not a bank transfer awaiting its confirmation"),
        (Conflict, "a confirmation is proposed already, or the reference is another payout's already"),
    ),
)
@require(roles=[Role.ADMIN])
@audited_step_up
def propose_bank(payout_id: str) -> Response:
    body = read_body(BankConfirmationRequest)
    proposed = on_payout(
        payout_id,
        lambda: payments().payouts.propose_bank_confirmation(
            payout_id, reference=body.reference, note=body.note, by=actor()
        ),
    )
    return json_response(ConclusionView.of(proposed))


@bp.post("/v1/admin/payouts/<payout_id>/bank-confirmation/approve")
@operation(
    "Approve the bank transfer's confirmation another admin proposed (admins; four-eyes)",
    request=BankApprovalRequest,
    response=ConclusionView,
    tags=_TAGS,
    description=(
        "Completes the bank transfer in the approver's name, paid from the bank account (`assets:bank:KES`) with "
        "the proposed reference. The proposer cannot approve it (409 `same_officer`, audited), nor an admin made "
        "staff by the same person as the proposer, or by it (409 `related_officers`), or less than the cool-off ago "
        "(409 `officer_cooling_off`). The body names the `reference` read: another proposed since is a 409 and "
        "nothing moves. Audited `payout.bank_confirmed` naming both; needs a step-up."
    ),
    problems=(
        *_DECIDED,
        (Refused, "the payout is paid over M-Pesa: its conclusion is approved at .../conclusion/approve"),
        (SamePerson, "you proposed it: a second admin approves it"),
        *RELATED,
        (Conflict, "another reference is proposed now, or the reference was booked on another payout"),
    ),
)
@require(roles=[Role.ADMIN])
@audited_step_up
def approve_bank(payout_id: str) -> Response:
    read = read_body(BankApprovalRequest)
    done = on_payout(
        payout_id, lambda: payments().payouts.approve_bank_confirmation(payout_id, by=actor(), reference=read.reference)
    )
    return json_response(ConclusionView.of(done))
