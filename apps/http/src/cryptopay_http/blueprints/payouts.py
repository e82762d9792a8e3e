"""Payouts: the M-Pesa payments that settle a merchant; listed per merchant, retried by an admin after a failure.

A merchant's payouts (retries included) are one keyset query of the read model (``cryptopay.core.listings``).
An admin may list payouts by ``state`` across merchants (e.g. ``?state=failed`` to find ones to retry).
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput, LimitExceeded, NotFound, Refused
from cryptopay.core.identity import Role
from cryptopay.core.mobile_money.wording import payout_wording
from cryptopay.core.money import Money
from cryptopay.core.payouts import AwaitingStatus, Payout, PayoutState
from cryptopay.core.settlement import SettlementMethod
from flask import Blueprint, Response, request

from cryptopay_http.auth import current_principal, not_found, require
from cryptopay_http.convert import json_response
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.payments_edge import ACTING_MERCHANT, acting_merchant, actor, check_tenant, payments
from cryptopay_http.query import MERCHANT_ID, enum_param, query

__all__ = ["RESULT_WORDING", "PayoutView", "bp"]

bp = Blueprint("payouts", __name__)
_TAGS = ("payouts",)


# A payout result as the API shows it: our fixed words for its code (``payout_wording``), never M-Pesa's text.
RESULT_WORDING = {
    "description": "the result in our fixed words for its code (never M-Pesa's own text); none before a result"
}


@attrs.frozen
class PayoutView:
    """One M-Pesa payout: ``amount`` to ``destination``, ``charge`` on top; ``note`` says why it needs attention."""

    id: str
    settlement_id: str
    merchant_id: str
    method: SettlementMethod
    destination: str
    amount: Money
    charge: Money
    state: PayoutState
    attempt: int
    retry_of: str | None
    retried_by: str | None
    receipt: str | None
    result_code: str | None
    result_desc: str | None = attrs.field(metadata=RESULT_WORDING)
    note: str | None
    created_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    route: str = attrs.field(
        default="b2c",
        metadata={
            "description": "how it is paid: b2c, 'BusinessPayBill <paybill> <account>' (a bank by its paybill), "
            "'BusinessBuyGoods <till>', or bank_transfer (an operator's, from the bank file)"
        },
    )

    @classmethod
    def of(cls, p: Payout) -> PayoutView:
        return cls(
            p.id,
            p.settlement_id,
            p.merchant_id,
            p.method,
            p.destination,
            p.amount,
            p.charge,
            p.state,
            p.attempt,
            p.retry_of,
            p.retried_by,
            p.receipt,
            p.result_code,
            payout_wording(p.result_code),
            p.note,
            p.created_at,
            p.submitted_at,
            p.finished_at,
            p.route,
        )


def _state() -> PayoutState | None:
    text = request.args.get("state")
    if text is None:
        return None
    try:
        return PayoutState(text)
    except ValueError:
        known = ", ".join(s.value for s in PayoutState)
        raise InvalidInput(f"state must be one of: {known}", field="state") from None


def _merchant() -> str | None:
    """The merchant whose payouts are listed: the caller's own; an admin's named one, or None (every merchant)."""
    requested = request.args.get("merchant_id")
    if current_principal().role is Role.ADMIN and requested is None:
        return None
    return acting_merchant(requested)


@bp.get("/v1/payouts")
@operation(
    "List payouts (?state=; admins: ?merchant_id=)",
    response=PageOf(PayoutView),
    tags=_TAGS,
    description=(
        "The M-Pesa (or bank) payouts that settle a merchant, retries included, newest first. A merchant "
        "sees its own; an admin names a `merchant_id`, a `state` (e.g. `?state=failed` to find payouts to "
        "retry) or both. Each payout shows its amount and M-Pesa's charge on top, its state, its receipt "
        "once paid and the result in our fixed words."
    ),
    problems=(
        *ACTING_MERCHANT,
        (InvalidInput, "an admin names neither a merchant_id nor a state"),
    ),
)
@require(scope="payouts:read")
@paginated("po")
@query(enum_param("state", lambda: [s.value for s in PayoutState], "only payouts in this state"), MERCHANT_ID)
def list_payouts() -> Response:
    merchant_id, state = _merchant(), _state()
    if merchant_id is None and state is None:
        raise InvalidInput("admins name a merchant_id or a state to list payouts", field="merchant_id")

    def fetch(before: str | None, limit: int) -> list[Payout]:
        found: list[Payout] = payments().listings.payouts(merchant_id, before=before, limit=limit, state=state)
        return found

    return json_response(paginate(fetch, PayoutView.of))


@bp.get("/v1/payouts/<payout_id>")
@operation(
    "Read a payout",
    response=PayoutView,
    tags=_TAGS,
    description=(
        "One payout: amount, charge, destination, state, attempt (and the attempt it retries or that "
        "retried it), M-Pesa's receipt and result once known, and a `note` when it needs attention. "
        "Another merchant's payout is a 404."
    ),
)
@require(scope="payouts:read")
def get_payout(payout_id: str) -> Response:
    try:
        payout = payments().payouts.get_payout(payout_id)
    except NotFound:
        raise not_found("payout", payout_id) from None
    check_tenant("payout", payout_id, payout.merchant_id)
    return json_response(PayoutView.of(payout))


@bp.post("/v1/payouts/<payout_id>/retry")
@operation(
    "Retry a failed payout as a new attempt (admins)",
    response=PayoutView,
    status=201,
    tags=_TAGS,
    errors=(404, 422),
    description=(
        "Makes a new attempt (a new payout id, a new hold on the merchant's balance) for a payout that "
        "failed definitively; each failure may be retried once. A failure reported only by M-Pesa's "
        "callback is first confirmed with a Transaction Status query: until its answer comes the retry is "
        "refused with `awaiting_status` (retry again later; if the query finds it paid, the payout is "
        "completed instead). A B2C retry is checked against M-Pesa's daily limit per recipient; the "
        "refusal is audited. The new payout is in `Location`."
    ),
    problems=(
        (Refused, "the payout is not failed, or was already retried"),
        (
            AwaitingStatus,
            ("the failure came by M-Pesa's callback: Transaction Status is asked first; retry once it has answered"),
        ),
        (
            LimitExceeded,
            ("past M-Pesa's daily limit for the recipient (the problem says what remains and from which day)"),
        ),
    ),
)
@require(roles=[Role.ADMIN])
@idempotent
def retry_payout(payout_id: str) -> Response:
    try:
        payout = payments().payouts.retry_failed_payout(payout_id, actor=actor())
    except NotFound:
        raise not_found("payout", payout_id) from None
    return json_response(PayoutView.of(payout), 201, headers={"Location": f"/v1/payouts/{payout.id}"})
