"""Correcting the M-Pesa receipt two admins concluded a payout with (admins; four-eyes; the ledger untouched).

A payout concluded ``completed`` from M-Pesa's statement (``payout_conclusions``) carries the receipt the admins
typed; a mistyped one is corrected by two admins: ``POST /v1/admin/payouts/<id>/receipt-correction`` proposes the
right receipt with a reason (a step-up), ``.../receipt-correction/approve`` books the receipt the second admin read
(a step-up; the proposer is a 409 ``same_officer``), ``.../receipt-correction/decline`` clears it. Only the reference
changes: no ledger entry; the old receipt is kept in ``corrections`` and the audit log. The receipt is M-Pesa's
format (422) and booked on no other payout (409). The shell refuses both steps (exit 5, audited), as a conclusion's.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.identity import Role
from cryptopay.core.payouts import Payout
from cryptopay.core.payouts.model import ReceiptCorrection
from cryptopay.core.payouts.service import SamePerson
from flask import Blueprint, Response

from cryptopay_http.auth import audited_step_up, require
from cryptopay_http.blueprints.payout_conclusions import on_payout
from cryptopay_http.blueprints.payouts import PayoutView
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.officer_desk import RELATED
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import actor, payments

__all__ = ["bp"]

bp = Blueprint("payout_receipts", __name__)
_TAGS = ("admin", "payouts")
_RECEIPT = limits("M-Pesa's receipt of the payment (6 to 20 letters and digits)", min_length=1, max_length=20)


@attrs.frozen
class CorrectionShown:
    """One receipt correction: the receipt before, the one proposed, why, who proposed and (once approved) who
    approved it."""

    before: str | None
    receipt: str
    reason: str
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None

    @classmethod
    def of(cls, c: ReceiptCorrection) -> CorrectionShown:
        return cls(c.before, c.receipt, c.reason, c.by, c.at, c.approved_by, c.approved_at)


@attrs.frozen
class ReceiptCorrectionView:
    """A concluded payout's receipt, the correction proposed (if any) and those approved, oldest first."""

    payout: PayoutView
    proposed: CorrectionShown | None = attrs.field(metadata={"description": "awaiting a second admin, if any"})
    corrections: list[CorrectionShown] = attrs.field(metadata={"description": "approved, oldest first"})

    @classmethod
    def of(cls, p: Payout) -> ReceiptCorrectionView:
        proposed = CorrectionShown.of(p.correction) if p.correction is not None else None
        return cls(PayoutView.of(p), proposed, [CorrectionShown.of(c) for c in p.corrections])


@attrs.frozen
class ReceiptCorrectionRequest:
    receipt: str = attrs.field(metadata=_RECEIPT)
    reason: str = attrs.field(
        metadata=limits("why the receipt booked is wrong and where the right one is read", min_length=1, max_length=500)
    )


@attrs.frozen
class ReceiptApprovalRequest:
    """The receipt the approver read: another proposed meanwhile is a 409."""

    receipt: str = attrs.field(metadata=_RECEIPT)


@attrs.frozen
class ReceiptDeclineRequest:
    note: str = attrs.field(metadata=limits("why (kept in the audit log)", min_length=1, max_length=500))


_NONE = (NotFound, "no payout with this id")


@bp.post("/v1/admin/payouts/<payout_id>/receipt-correction")
@operation(
    "Propose correcting the M-Pesa receipt a concluded payout was booked with (admins; four-eyes)",
    request=ReceiptCorrectionRequest,
    response=ReceiptCorrectionView,
    tags=_TAGS,
    description=(
        "Proposes `receipt` in place of the receipt two admins concluded the payout completed with (a receipt "
        "mistyped from M-Pesa's statement). Nothing changes until a second admin approves it "
        "(`.../receipt-correction/approve`); no money moves either way. Audited "
        "`payout.receipt_correction_proposed`; needs a step-up."
    ),
    problems=(
        _NONE,
        (InvalidInput, "a receipt not 6 to 20 letters and digits, the payout's own receipt, or no reason"),
        (Refused, "the payout was not concluded completed by two admins (M-Pesa's own result, a bank transfer)"),
        (Conflict, "a correction is proposed already, or the receipt is another payout's already"),
    ),
)
@require(roles=[Role.ADMIN])
@audited_step_up
def propose(payout_id: str) -> Response:
    body = read_body(ReceiptCorrectionRequest)
    proposed = on_payout(
        payout_id,
        lambda: payments().payouts.propose_receipt_correction(
            payout_id, receipt=body.receipt, reason=body.reason, by=actor()
        ),
    )
    return json_response(ReceiptCorrectionView.of(proposed))


@bp.post("/v1/admin/payouts/<payout_id>/receipt-correction/approve")
@operation(
    "Approve the receipt correction another admin proposed (admins; four-eyes)",
    request=ReceiptApprovalRequest,
    response=ReceiptCorrectionView,
    tags=_TAGS,
    description=(
        "Books the receipt proposed in the approver's name; the old one is kept in `corrections`. Only the reference "
        "changes: the ledger is untouched. The proposer cannot approve it (409 `same_officer`, audited). The body "
        "names the `receipt` read: another proposed since is a 409. Audited `payout.receipt_corrected` naming both; "
        "needs a step-up."
    ),
    problems=(
        _NONE,
        (InvalidInput, "a receipt read that is not 6 to 20 letters and digits"),
        (InvalidState, "no receipt correction is proposed"),
        (SamePerson, "you proposed it: a second admin approves it"),
        *RELATED,
        (Conflict, "another receipt is proposed now, or the receipt was booked on another payout since"),
    ),
)
@require(roles=[Role.ADMIN])
@audited_step_up
def approve(payout_id: str) -> Response:
    read = read_body(ReceiptApprovalRequest)
    done = on_payout(
        payout_id, lambda: payments().payouts.approve_receipt_correction(payout_id, by=actor(), receipt=read.receipt)
    )
    return json_response(ReceiptCorrectionView.of(done))


@bp.post("/v1/admin/payouts/<payout_id>/receipt-correction/decline")
@operation(
    "Decline (or withdraw) the receipt correction proposed on a payout (admins)",
    request=ReceiptDeclineRequest,
    response=ReceiptCorrectionView,
    tags=_TAGS,
    description="Clears the correction proposed, saying why; the receipt stays as booked. Audited.",
    problems=(_NONE, (InvalidState, "no receipt correction is proposed"), (InvalidInput, "no note")),
)
@require(roles=[Role.ADMIN])
def decline(payout_id: str) -> Response:
    note = read_body(ReceiptDeclineRequest).note
    declined = on_payout(
        payout_id, lambda: payments().payouts.decline_receipt_correction(payout_id, by=actor(), note=note)
    )
    return json_response(ReceiptCorrectionView.of(declined))
