"""Paying bills from a personal wallet (``/v1/wallet/bills...``): KPLC, Nairobi Water, DStv, GOtv by M-Pesa B2B.

``GET /v1/wallet/bills/catalogue`` lists the billers (paybill, account format, minimum and maximum);
``POST /v1/wallet/bills/validate`` runs the same local checks as a payment without moving anything;
``POST /v1/wallet/bills`` pays (an ``Idempotency-Key`` is required: a retry replays the first answer, so a lost
response never pays twice); ``GET /v1/wallet/bills[/{id}]`` lists them newest first, with the payout's state and a
prepaid token when the biller returned one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs
from cryptopay.core.errors import InvalidInput, LimitExceeded, NotFound, QuoteRequired, Refused
from cryptopay.core.identity import Role
from cryptopay.core.mobile_money.wording import payout_wording
from cryptopay.core.money import Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.wallets.billers import Biller
from cryptopay.core.wallets.bills import BILL_PREFIX, Bill, BillCheck
from flask import Blueprint, Response
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from cryptopay_http.amounts import CURRENCY, AmountRule
from cryptopay_http.auth import (
    current_principal,
    documents_step_up_if,
    limit_payouts,
    limit_sends,
    rate_limits,
    require,
    step_up_refusal_audited,
)
from cryptopay_http.blueprints.payouts import RESULT_WORDING
from cryptopay_http.blueprints.wallet import (
    MOVEMENT_PROBLEMS,
    NO_WALLET,
    PAYOUTS_PACED,
    QUOTE_PROBLEMS,
    SENDS_PACED,
    STEP_UP_WHEN,
    step_up_past_allowance,
)
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("wallet_bills", __name__)

_TAGS = ("wallet",)
_PERSONAL = [Role.PERSONAL]
_BILLER = r"^[A-Za-z][A-Za-z0-9_]{1,31}$"
_ACCOUNT = r"^[0-9][0-9 -]{2,24}$"


@attrs.frozen
class BillerView:
    """A biller: pay ``paybill`` with the account (``account_label``, matching ``account_pattern``) as reference."""

    code: str
    name: str
    paybill: str
    account_label: str
    account_pattern: str
    minimum: Money
    maximum: Money
    token: bool = attrs.field(metadata={"description": "a prepaid biller: the customer receives a token"})
    verified: bool = attrs.field(metadata={"description": "checked against the biller's own published page"})

    @classmethod
    def of(cls, b: Biller) -> BillerView:
        return cls(
            b.code, b.name, b.paybill, b.account_label, b.account_pattern, b.minimum, b.maximum, b.token, b.verified
        )


@attrs.frozen
class CatalogueView:
    version: int
    effective_from: str
    billers: list[BillerView]


@attrs.frozen
class BillCheckRequest:
    biller: str = attrs.field(metadata=limits("a biller code from the catalogue, e.g. KPLC_PREPAID", pattern=_BILLER))
    account: str = attrs.field(metadata=limits("the meter, account or smartcard number", pattern=_ACCOUNT))
    amount: Any = attrs.field(
        default=None,
        kw_only=True,
        metadata=limits("whole shillings of the bill (currency KES; without currency: deprecated)"),
    )
    currency: str | None = attrs.field(default=None, kw_only=True, metadata=limits(CURRENCY))


# Deprecated: ``amount`` without ``currency`` (shillings).
BILL_AMOUNT = AmountRule(("KES",), places=0, positive=True, integer_digits=6, implied="KES")
BILL_AMOUNT.document(BillCheckRequest)


@attrs.frozen
class BillRequest(BillCheckRequest):
    pay_with: str = attrs.field(default="KES", metadata=limits("KES, or USDT sold at the bid", pattern="^(KES|USDT)$"))
    quote_id: str | None = attrs.field(
        default=None,
        metadata=limits(
            "required with USDT: my unused quote from POST /v1/wallet/quotes (side sell), before its expires_at",
            max_length=64,
        ),
    )


BILL_AMOUNT.document(BillRequest)


@attrs.frozen
class BillCheckView:
    """The bill as it would be sent: the biller's paybill and the account as its reference."""

    biller: str
    biller_name: str
    paybill: str
    account: str
    amount: Money

    @classmethod
    def of(cls, c: BillCheck) -> BillCheckView:
        return cls(c.biller.code, c.biller.name, c.biller.paybill, c.account, c.amount)


@attrs.frozen
class BillView:
    """A bill payment; ``state`` is its B2B payout's (planned, submitted, unknown, completed; failed: the shillings
    are back in the wallet's KES). ``token``: a prepaid biller's token when the result carried one; ``token_note``
    says where it comes from otherwise (KPLC sends it by SMS)."""

    id: str
    biller: str
    biller_name: str
    paybill: str
    account: str
    amount: Money
    paid_with: Money
    state: PayoutState
    receipt: str | None
    result_desc: str | None = attrs.field(metadata=RESULT_WORDING)
    token: str | None
    token_note: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, b: Bill) -> BillView:
        p = b.payout
        return cls(
            b.id,
            b.biller.code,
            b.biller.name,
            b.biller.paybill,
            b.account,
            p.amount,
            b.paid_with,
            p.state,
            p.receipt,
            payout_wording(p.result_code),
            b.token,
            b.token_note,
            p.created_at,
            p.finished_at,
        )


@bp.get("/v1/wallet/bills/catalogue")
@operation(
    "The billers I can pay, with their account formats and limits",
    response=CatalogueView,
    tags=_TAGS,
    description=(
        "The billers the caller can pay (KPLC, water, TV...), each with its paybill, the pattern its "
        "account numbers match and its minimum and maximum; `version` and `effective_from` say which "
        "catalogue is in force."
    ),
)
@require(roles=_PERSONAL)
def bill_catalogue() -> Response:
    catalogue = runtime().services.wallet_bills.catalogue
    billers = [BillerView.of(b) for b in catalogue.billers.values()]
    return json_response(CatalogueView(catalogue.version, catalogue.effective_from.isoformat(), billers))


@bp.post("/v1/wallet/bills/validate")
@operation(
    "Check a bill (biller, account format, amount) without paying it",
    request=BillCheckRequest,
    response=BillCheckView,
    tags=_TAGS,
    errors=(422,),
    description=(
        "Checks a bill the way paying it would (the biller exists, the account fits its format, the "
        "amount is within its limits) and shows what would be paid, without paying or holding anything. "
    )
    + rate_limits(wallet_sends=True),
    problems=(
        SENDS_PACED,
        (
            InvalidInput,
            (
                "an unknown biller, an account that does not fit the biller's format, or an "
                "amount that is not whole shillings"
            ),
        ),
        (LimitExceeded, "the amount is outside the biller's minimum and maximum"),
    ),
)
@require(roles=_PERSONAL)
def validate_bill() -> Response:
    limit_sends()  # a check is a free probe of billers' accounts: the wallet's pace of checks and sends
    body = read_body(BillCheckRequest)
    checked = runtime().services.wallet_bills.check(body.biller, body.account, BILL_AMOUNT.money(body))
    return json_response(BillCheckView.of(checked))


@bp.post("/v1/wallet/bills")
@operation(
    "Pay a bill by M-Pesa B2B from my KES, or from my USDT at the locked bid",
    request=BillRequest,
    response=BillView,
    status=201,
    tags=_TAGS,
    errors=(404, 409, 422, 503),
    description=(
        "Pays a biller's paybill by M-Pesa B2B for an account, in whole shillings: from the caller's KES, "
        "or from its USDT sold at the bid of a quote it locked first (`pay_with` USDT needs `quote_id`, from "
        "`POST /v1/wallet/quotes` with side `sell`: the USDT debited is the bill's shillings at that bid, "
        "never a fresh price). The payment is followed to M-Pesa's result (a prepaid token, e.g. KPLC's, "
        "shows once paid); its URL is in `Location`. "
    )
    + rate_limits(wallet_payouts=True),
    problems=(
        *MOVEMENT_PROBLEMS,
        NO_WALLET,
        *QUOTE_PROBLEMS,
        (QuoteRequired, "paid from USDT without a quote_id: lock one with POST /v1/wallet/quotes (side sell)"),
        (
            InvalidInput,
            (
                "an unknown biller, an account that does not fit the biller's format, or an "
                "amount that is not whole shillings"
            ),
        ),
        (LimitExceeded, "the amount is outside the biller's minimum and maximum"),
        (Refused, "M-Pesa cannot pay it right now (float short)"),
        PAYOUTS_PACED,
    ),
)
@require(roles=_PERSONAL)
@documents_step_up_if(STEP_UP_WHEN)
@idempotent
def pay_bill() -> Response:
    limit_payouts()  # each is a B2B payment from the shortcode: one count with sales and cash-outs (review7 F12)
    body = read_body(BillRequest)
    amount = BILL_AMOUNT.money(body)
    step_up = step_up_past_allowance(amount)
    with step_up_refusal_audited():
        bill = runtime().services.wallet_bills.pay(
            current_principal().id,
            body.biller,
            body.account,
            amount,
            pay_with=body.pay_with,
            quote_id=body.quote_id,
            step_up=step_up,
        )
    return json_response(BillView.of(bill), 201, headers={"Location": f"/v1/wallet/bills/{bill.id}"})


@bp.get("/v1/wallet/bills")
@operation(
    "My bill payments, newest first",
    response=PageOf(BillView),
    tags=_TAGS,
    description=(
        "The caller's bill payments, newest first: biller, account, amount, how it was paid, state, receipt and token."
    ),
)
@require(roles=_PERSONAL)
@paginated(BILL_PREFIX)
def list_bills() -> Response:
    bills, user_id = runtime().services.wallet_bills, current_principal().id

    def fetch(after: str | None, limit: int) -> list[Bill]:
        return bills.for_user(user_id, after=after, limit=limit)

    return json_response(paginate(fetch, BillView.of))


class BillId(BaseConverter):
    """A bill id: any path segment but ``validate`` and ``catalogue``, the named operations (GET .../validate: 405)."""

    regex = r"(?!(validate|catalogue)$)[^/]+"
    schema: ClassVar[dict[str, object]] = {"not": {"enum": ["validate", "catalogue"]}}


@bp.record_once
def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("bill_id", BillId)


@bp.get("/v1/wallet/bills/<bill_id:bill_id>")
@operation(
    "One of my bill payments",
    response=BillView,
    tags=_TAGS,
    errors=(404, 405),
    description=(
        "One of the caller's bill payments, with M-Pesa's result in our words and a prepaid token once "
        "paid. `validate` and `catalogue` are not ids (GET .../validate is a 405)."
    ),
    problems=((NotFound, "no such bill of the caller's"),),
)
@require(roles=_PERSONAL)
def get_bill(bill_id: str) -> Response:
    return json_response(BillView.of(runtime().services.wallet_bills.get(current_principal().id, bill_id)))
