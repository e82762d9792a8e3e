"""Refunds: a merchant sends crypto an invoice received back to an address the customer gives.

``POST /v1/invoices/{id}/refunds`` needs an ``Idempotency-Key`` (money leaves) and either an API key holding
``refunds:write`` or a merchant user with a fresh step-up (``X-Step-Up-Token``): a stolen session alone cannot send
funds out, while a shop's server-side key with the scope can (keep it as secret as the funds it moves). Reads need
``refunds:read``. Refunds of an invoice never take more than it received on the rail, less earlier refunds that
have not failed; an amount in the invoice's currency is converted at a locked quote, named (``quote_id``) or
locked for the refund, and kept on it. The worker sends it (``refunds.send``); each state is a webhook.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import ParamSpec, TypeVar

import attrs
from cryptopay.core.errors import InvalidInput, NotFound, Refused, Unavailable
from cryptopay.core.identity import PrincipalKind
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.payments.model import Refund, RefundState
from cryptopay.core.payments.refunds import BeyondRecentVolume, KeptAsRevenue
from flask import Blueprint, Response, request

from cryptopay_http.auth import check_step_up, current_principal, documents_step_up_when, not_found, require
from cryptopay_http.blueprints.invoices import load_invoice
from cryptopay_http.convert import check_places, json_response, limits, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.payments_edge import ACTING_MERCHANT, acting_merchant, actor, check_tenant, payments
from cryptopay_http.query import MERCHANT_ID, query

__all__ = ["INTERNAL", "RefundView", "bp"]

INTERNAL = (
    "the address is one cryptopay controls (a hot wallet, or a wallet's, an invoice's or a remittance order's "
    "deposit address, on any network sharing the key): a refund goes to the customer's own wallet"
)

bp = Blueprint("refunds", __name__)
_TAGS = ("refunds",)
P = ParamSpec("P")
R = TypeVar("R")


@attrs.frozen
class CreateRefund:
    """Where the refund goes and how much: ``amount`` in ``currency`` (the rail's asset, or the invoice's currency,
    converted at ``quote_id`` or at a quote locked now); without ``amount``, what the customer is owed beyond the
    price (overpayment, late payments). ``rail`` may be left out when the invoice was paid on one rail only."""

    address: str = attrs.field(metadata=limits("the customer's address on the rail's network", max_length=128))
    amount: Decimal | None = None
    currency: str | None = attrs.field(
        default=None, metadata=limits("USDT, BTC or the invoice's currency (KES)", min_length=3, max_length=8)
    )
    rail: str | None = attrs.field(default=None, metadata=limits("e.g. usdt-tron", max_length=64))
    quote_id: str | None = attrs.field(
        default=None,
        metadata=limits(
            "a live quote this merchant locked with GET /v1/fx/quote, converting this one refund (another's: 404;"
            " a used one: 409 quote_used)",
            max_length=64,
        ),
    )


@attrs.frozen
class RefundView:
    """A refund: what goes where, its state, the transaction, and the quote that converted it (if any).
    ``funded_by_merchant``: the part of ``amount`` its balance lacked after settlement, sold to the merchant on credit;
    ``owed_by_merchant``: the shillings it owes for that part, netted from its next settlements (both null when its
    balance covered the refund)."""

    id: str
    invoice_id: str
    merchant_id: str
    state: RefundState
    rail: str
    network: str
    address: str
    amount: Money
    requested: Money | None
    quote_id: str | None
    rate: Decimal | None
    tx_hash: str | None
    failure: str | None
    reason: str
    created_at: datetime
    updated_at: datetime | None
    funded_by_merchant: Money | None
    owed_by_merchant: Money | None
    held: str | None = attrs.field(
        default=None,
        metadata={
            "description": "why a requested refund is not sent yet: screening_unavailable (no sanctions list is loaded "
            "to screen the address against); it is sent once one is"
        },
    )

    @classmethod
    def of(cls, r: Refund) -> RefundView:
        return cls(
            id=r.id,
            invoice_id=r.invoice_id,
            merchant_id=r.merchant_id,
            state=r.state,
            rail=r.rail_key,
            network=r.network,
            address=r.address,
            amount=r.amount,
            requested=r.requested,
            quote_id=r.quote_id,
            rate=r.rate,
            tx_hash=r.tx_hash,
            failure=r.outward_failure,
            reason=r.reason,
            created_at=r.created_at,
            updated_at=r.updated_at,
            funded_by_merchant=r.funded,
            owed_by_merchant=r.owed,
            held=r.held,
        )


def step_up_for_users(view: Callable[P, R]) -> Callable[P, R]:
    """A user session needs a fresh step-up (money leaves); an API key holding the route's scope does not."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_principal().kind is PrincipalKind.USER:
            check_step_up()
        return view(*args, **kwargs)

    return documents_step_up_when("for user sessions (not for API keys)", wrapper)


def _amount(body: CreateRefund) -> Money | None:
    if body.amount is None:
        if body.currency is not None or body.quote_id is not None:
            raise InvalidInput("give the amount with its currency (or neither, for what is owed)", field="amount")
        return None
    if body.currency is None:
        raise InvalidInput("name the amount's currency", field="currency")
    try:
        asset = asset_by_code(body.currency.strip().upper())
        check_places(body.amount, asset.decimals)
        amount = Money.of(body.amount, asset)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="amount" if "place" in error.message else "currency") from None
    if not amount.is_positive():
        raise InvalidInput("a refund amount must be positive", field="amount")
    return amount


def _refund(refund_id: str) -> Refund:
    try:
        refund = payments().refunds.get_refund(refund_id)
    except NotFound:
        raise not_found("refund", refund_id) from None
    check_tenant("refund", refund_id, refund.merchant_id)
    return refund


@bp.post("/v1/invoices/<invoice_id>/refunds")
@operation(
    "Refund (part of) what an invoice received to the customer's address",
    request=CreateRefund,
    example={
        "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "amount": "1000",
        "currency": "KES",
        "rail": "usdt-ethereum",
    },
    response=RefundView,
    status=201,
    tags=_TAGS,
    errors=(404, 409, 503),
    description=(
        "Sends (part of) what an invoice received back to the customer's address on one of its rails, "
        "from the merchant's balance. Without `amount` it refunds what is owed (an overpayment or a late "
        "payment); with `amount` and `currency` (the rail's asset, or KES converted at a quote: "
        "`quote_id` from GET /v1/fx/quote, else the current rate) at most what was received less earlier "
        "refunds. The refund is sent by the rail's hot wallet and followed to `sent`/`confirmed` (webhook "
        "`refund.*`). Its URL is in `Location`. What the merchant's balance in the rail's asset no longer covers "
        "(already settled) is sold to the merchant at a locked quote's ask and netted from its next settlements, "
        "up to what its settlements paid it in the last 30 days."
    ),
    problems=(
        (
            InvalidInput,
            (
                "a bad or foreign address (the invoice's own, zero or burn address), a rail the "
                "invoice does not offer, an amount without currency or below the asset's smallest "
                "unit"
            ),
        ),
        (
            Refused,
            (
                "the invoice is not yet settled or expired, the amount is more than can be "
                "refunded, or the rail's network has no hot wallet"
            ),
        ),
        (
            KeptAsRevenue,
            (
                "a remittance order's invoice (admins): the amount includes what the desk kept as revenue "
                "(dust below the refund floor, excess refunds' network fees), named in the detail"
            ),
        ),
        (
            BeyondRecentVolume,
            (
                "funding the part the merchant's settled balance no longer covers would leave it owing more than "
                "its settlements paid it in the last 30 days"
            ),
        ),
        (InternalAddress, INTERNAL),
        (NotFound, "no invoice, or `quote_id` is not one of this merchant's quotes"),
        (Unavailable, "no FX rates are configured to convert a KES amount"),
    ),
)
@require(scope="refunds:write")
@step_up_for_users
@idempotent
def create_refund(invoice_id: str) -> Response:
    invoice = load_invoice(invoice_id)
    body = read_body(CreateRefund)
    amount = _amount(body)
    refund = payments().refunds.refund(
        invoice.id,
        address=body.address,
        requested_by=actor(),
        rail=body.rail,
        amount=amount,
        quote_id=body.quote_id,
        fund_after_settlement=True,
    )
    return json_response(RefundView.of(refund), 201, headers={"Location": f"/v1/refunds/{refund.id}"})


@bp.get("/v1/invoices/<invoice_id>/refunds")
@operation(
    "The invoice's refunds, newest first",
    response=PageOf(RefundView),
    tags=_TAGS,
    description=(
        "The refunds of one invoice, newest first, with their amount, address, state and transaction hash once sent."
    ),
)
@require(scope="refunds:read")
@paginated("rfd")
def list_refunds(invoice_id: str) -> Response:
    invoice = load_invoice(invoice_id)
    refunds = payments().refunds

    def fetch(before: str | None, limit: int) -> list[Refund]:
        return refunds.list_refunds(invoice.id, before=before, limit=limit)

    return json_response(paginate(fetch, RefundView.of))


@bp.get("/v1/refunds")
@operation(
    "The merchant's refunds, newest first (admins: ?merchant_id=)",
    response=PageOf(RefundView),
    tags=_TAGS,
    description=(
        "The refunds of every invoice of the merchant, newest first, with their invoice, amount, address, state "
        "and transaction hash once sent. Admins name the merchant with `merchant_id`."
    ),
    problems=(*ACTING_MERCHANT,),
)
@require(scope="refunds:read")
@paginated("rfd")
@query(MERCHANT_ID)
def list_merchant_refunds() -> Response:
    merchant_id = acting_merchant(request.args.get("merchant_id"))
    refunds = payments().refunds

    def fetch(before: str | None, limit: int) -> list[Refund]:
        return refunds.list_merchant_refunds(merchant_id, before=before, limit=limit)

    return json_response(paginate(fetch, RefundView.of))


@bp.get("/v1/refunds/<refund_id>")
@operation(
    "Read a refund",
    response=RefundView,
    tags=_TAGS,
    description=(
        "One refund: what is sent where, its state (`requested`, `sent`, `confirmed`, `failed`), the "
        "transaction hash and, for a KES amount, the quote and rate it was converted at."
    ),
)
@require(scope="refunds:read")
def get_refund(refund_id: str) -> Response:
    return json_response(RefundView.of(_refund(refund_id)))
