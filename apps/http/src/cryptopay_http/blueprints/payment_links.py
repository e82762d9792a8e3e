"""Payment links: a merchant's reusable request to be paid; each use creates an invoice.

The merchant (a login, or an API key holding ``payment_links:write`` / ``payment_links:read``) creates, lists, reads
and deactivates links. A customer uses one without credentials: ``POST /v1/payment-links/{public_id}/invoices``
(the unguessable public id only; rate-limited per client address) creates an invoice for the link's price, or
for the amount entered within its currency's bounds (``LINK_AMOUNTS``) and the store's minimum and maximum (each
refusal a 422 naming ``amount``: ``amount_below_minimum``, ``amount_above_maximum``, ``amount_not_whole``,
``below_store_minimum``, ``above_store_maximum``; a ``currency`` other than the link's: ``payment_link_currency``); a
capped link never has more open or paid invoices than its cap (an invoice that ends unpaid gives its use back:
``payments.link_uses``). An optional ``Idempotency-Key`` makes a customer's retry return the first invoice instead
of using the link again; every customer of the link shares its key space, so it must be unguessable (a random UUID:
``anonymous_key``). The hosted checkout pages load a link through ``PaymentLinks.load_public``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.money import Asset, Money, asset_by_code
from cryptopay.core.payments.invoicing import UnpricedRail
from cryptopay.core.payments.link_amounts import LINK_AMOUNTS, AmountAboveMaximum, AmountBelowMinimum, AmountNotWhole
from cryptopay.core.payments.links import PUBLIC_ID_PATTERN
from cryptopay.core.payments.model import (
    AboveStoreMaximum,
    BelowStoreMinimum,
    ImpersonatingText,
    PaymentLink,
    PaymentLinkBusy,
    PaymentLinkClosed,
    PaymentLinkCurrency,
    PaymentLinkTerms,
)
from cryptopay.core.text import TextKind
from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from cryptopay_http.auth import client_address, limit_by_client, not_found, require
from cryptopay_http.blueprints.invoices import InvoiceCurrency, InvoiceView
from cryptopay_http.blueprints.stores import NO_RAILS, offered_rail_keys
from cryptopay_http.convert import (
    TRIMMED_HINT,
    TRIMMED_PROSE_PATTERN,
    amount_pattern,
    check_places,
    json_response,
    limits,
    read_body,
)
from cryptopay_http.idempotency import idempotent_in
from cryptopay_http.openapi import PageOf, object_schema, operation, register_schema
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.payments_edge import (
    ACTING_MERCHANT,
    acting_merchant,
    actor,
    check_tenant,
    idempotent_when_keyed,
    payments,
)
from cryptopay_http.query import MERCHANT_ID, query

__all__ = ["PaymentLinkView", "bp"]

bp = Blueprint("payment_links", __name__)
_TAGS = ("payment links",)
_MAX_MINUTES = 366 * 24 * 60
_MAX_USES = 1_000_000


@attrs.frozen
class CreatePaymentLink:
    """A link asking a fixed ``amount`` in ``currency``, or (without ``amount``) one the customer enters."""

    description: str = attrs.field(
        metadata=limits(
            "what the customer pays for",
            min_length=1,
            max_length=200,
            pattern=TRIMMED_PROSE_PATTERN,
            hint=TRIMMED_HINT,
            text=TextKind.PROSE,
        )
    )
    currency: InvoiceCurrency = InvoiceCurrency.KES
    amount: Decimal | None = None
    rails: list[str] | None = attrs.field(
        default=None,
        metadata=limits(
            "rail keys; default every rail of the store",
            min_items=1,
            max_items=20,
            choices=offered_rail_keys,
            when_empty=NO_RAILS,
        ),
    )
    expires_in_minutes: int | None = attrs.field(
        default=None, metadata=limits("the link closes this long after creation", minimum=1, maximum=_MAX_MINUTES)
    )
    max_uses: int | None = attrs.field(
        default=None, metadata=limits("how many invoices it may make", minimum=1, maximum=_MAX_USES)
    )
    merchant_id: str | None = attrs.field(default=None, metadata=limits("admins only", max_length=64))


def _create_link_schema(components: dict[str, Any]) -> dict[str, Any]:
    """The fields, plus the fixed amount's places and positivity per currency (what ``_fixed`` enforces)."""
    variants = []
    for currency in InvoiceCurrency:
        amount = {"type": "string", "pattern": amount_pattern(asset_by_code(currency.value).decimals, positive=True)}
        variant: dict[str, Any] = {"properties": {"currency": {"const": currency.value}, "amount": amount}}
        if currency is not InvoiceCurrency.KES:  # left out, the currency is KES
            variant["required"] = ["currency"]
        variants.append(variant)
    return {**object_schema(CreatePaymentLink, components), "oneOf": variants}


register_schema(CreatePaymentLink, _create_link_schema)


def _plain(value: Money) -> str:
    """``10`` rather than ``10.00``, ``0.0001`` rather than ``0.00010000``: a bound is a round figure."""
    if value.amount == value.amount.to_integral_value():
        return f"{value.amount:,.0f}"
    return f"{value.amount.normalize():,f}"


_BOUNDS = "; ".join(
    f"{code} {_plain(b.minimum)} to {_plain(b.maximum)}{', whole' if b.whole else ''}"
    for code, b in LINK_AMOUNTS.items()
)


@attrs.frozen
class UseLink:
    """The customer's choice: the ``amount`` to pay in the link's currency (links without a fixed price; at most
    that currency's places), optionally with that ``currency`` (as on every money route), and the ``rail`` to pay on
    (one of the link's). What does not fit the link is a 409; a currency other than the link's a 422."""

    amount: Decimal | None = attrs.field(
        default=None,
        metadata=limits(
            f"positive, within the link currency's bounds ({_BOUNDS}): 422 amount_below_minimum, "
            "amount_above_maximum or amount_not_whole otherwise",
            pattern=amount_pattern(18, positive=True),
            hint="must be a positive amount such as 250",
        ),
    )
    currency: InvoiceCurrency | None = attrs.field(
        default=None,
        metadata=limits("the link's currency (optional): 422 payment_link_currency for another one"),
    )
    rail: str | None = attrs.field(
        default=None, metadata=limits("default every rail of the link", choices=offered_rail_keys, when_empty=NO_RAILS)
    )


@attrs.frozen
class PaymentLinkView:
    """A payment link: its terms, how often it was used, and whether it still makes invoices (and why not)."""

    id: str
    public_id: str
    merchant_id: str
    description: str
    currency: str
    amount: Money | None
    rails: list[str] | None
    expires_at: datetime | None
    max_uses: int | None
    uses: int = attrs.field(
        metadata={
            "description": "the link's paid invoices plus its open ones: an invoice that expires or is cancelled "
            "unpaid gives its use back; a late payment takes it again, even past max_uses"
        }
    )
    active: bool
    open: bool
    closed_reason: str | None
    created_at: datetime
    deactivated_at: datetime | None

    @classmethod
    def of(cls, link: PaymentLink) -> PaymentLinkView:
        reason = payments().payment_links.closed_reason(link)  # busy with checkouts in progress, or why closed
        return cls(
            id=link.id,
            public_id=link.public_id,
            merchant_id=link.merchant_id,
            description=link.description,
            currency=link.currency.code,
            amount=link.amount,
            rails=list(link.rails) if link.rails is not None else None,
            expires_at=link.expires_at,
            max_uses=link.max_uses,
            uses=link.uses,
            active=link.active,
            open=reason is None,
            closed_reason=reason,
            created_at=link.created_at,
            deactivated_at=link.deactivated_at,
        )


def _money(amount: Decimal, asset: Asset) -> Money:
    try:
        check_places(amount, asset.decimals)
        money = Money.of(amount, asset)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="amount") from None
    if not money.is_positive():
        raise InvalidInput("an amount must be positive", field="amount")
    return money


def _link(link_id: str) -> PaymentLink:
    try:
        link = payments().payment_links.get_link(link_id)
    except NotFound:
        raise not_found("payment link", link_id) from None
    check_tenant("payment link", link_id, link.merchant_id)
    return link


@bp.post("/v1/payment-links")
@operation(
    "Create a payment link (a fixed amount, or one the customer enters)",
    request=CreatePaymentLink,
    example={"description": "Mandazi", "amount": "500", "currency": "KES", "max_uses": 100, "expires_in_minutes": 1440},
    response=PaymentLinkView,
    status=201,
    tags=_TAGS,
    errors=(404,),
    description=(
        "Creates a reusable payment link: a fixed `amount` in `currency`, or none (the customer enters "
        "it, within the link's bounds), with optional `rails`, expiry (`expires_in_minutes`) and use "
        "limit (`max_uses`). Customers use it by its public id (`POST "
        "/v1/payment-links/{public_id}/invoices`, no credentials) and its hosted page; each use makes an "
        "invoice of the merchant's."
    ),
    problems=(
        *ACTING_MERCHANT,
        (
            InvalidInput,
            (
                "a blank description, a rail the store does not accept, an expiry in the past, "
                "max_uses below 1, or an amount with too many places"
            ),
        ),
        (ImpersonatingText, "a description speaking as a reserved brand (M-PESA official, KPLC agent ...)"),
        (NotFound, "the merchant has no store settings yet: it cannot take payments"),
        (AmountNotWhole, "an amount in cents where the currency's links take whole amounts"),
        (AmountBelowMinimum, "below the links' minimum amount"),
        (AmountAboveMaximum, "above the links' maximum amount"),
        (BelowStoreMinimum, "worth less than the store's min_invoice_amount (KES)"),
        (AboveStoreMaximum, "worth more than the store's max_invoice_amount (KES)"),
    ),
)
@require(scope="payment_links:write")
@idempotent_when_keyed
def create_payment_link() -> Response:
    body = read_body(CreatePaymentLink)
    merchant_id = acting_merchant(body.merchant_id)
    currency = asset_by_code(body.currency.value)
    minutes = body.expires_in_minutes
    link = payments().payment_links.create_link(
        merchant_id,
        actor=actor(),
        description=body.description,
        amount=_money(body.amount, currency) if body.amount is not None else None,
        currency=currency,
        rails=body.rails,
        expires_at=payments().clock.now() + timedelta(minutes=minutes) if minutes else None,
        max_uses=body.max_uses,
    )
    return json_response(PaymentLinkView.of(link), 201, headers={"Location": f"/v1/payment-links/{link.id}"})


@bp.get("/v1/payment-links")
@operation(
    "List the merchant's payment links, newest first",
    response=PageOf(PaymentLinkView),
    tags=_TAGS,
    description=(
        "The merchant's payment links, newest first, with their terms, uses and whether they are still "
        "open. Admins name the merchant with `merchant_id`."
    ),
    problems=(*ACTING_MERCHANT,),
)
@require(scope="payment_links:read")
@paginated("lnk")
@query(MERCHANT_ID)
def list_payment_links() -> Response:
    merchant_id = acting_merchant(request.args.get("merchant_id"))
    links = payments().payment_links
    page = paginate(lambda before, limit: links.list_links(merchant_id, before=before, limit=limit), PaymentLinkView.of)
    return json_response(page)


@bp.get("/v1/payment-links/<link_id>")
@operation(
    "Read a payment link",
    response=PaymentLinkView,
    tags=_TAGS,
    description=(
        "One payment link: its terms (amount or bounds, currency, rails, expiry, use limit), how often it "
        "was used, its public id and page URL."
    ),
)
@require(scope="payment_links:read")
def get_payment_link(link_id: str) -> Response:
    return json_response(PaymentLinkView.of(_link(link_id)))


@bp.post("/v1/payment-links/<link_id>/deactivate")
@operation(
    "Deactivate a payment link for good (it makes no more invoices)",
    response=PaymentLinkView,
    tags=_TAGS,
    description=(
        "Closes the link for good: it makes no more invoices (its customers get 409 "
        "`payment_link_closed`); invoices it made already are unaffected. Deactivating it again changes "
        "nothing."
    ),
)
@require(scope="payment_links:write")
def deactivate_payment_link(link_id: str) -> Response:
    link = _link(link_id)
    return json_response(PaymentLinkView.of(payments().payment_links.deactivate_link(link.id, actor=actor())))


class PublicLinkId(BaseConverter):
    """A payment link's public id (``pl_`` and 22 URL-safe characters): any other path is a 404 before the view and
    its ``Idempotency-Key`` (whose scope is the link) are looked at."""

    regex = PUBLIC_ID_PATTERN
    schema: ClassVar[dict[str, object]] = {"pattern": f"^{PUBLIC_ID_PATTERN}$", "minLength": 25, "maxLength": 25}


@bp.record_once
def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("public_link_id", PublicLinkId)


@bp.post("/v1/payment-links/<public_link_id:public_id>/invoices")
@operation(
    "Use a payment link: an invoice for its price or the amount entered",
    request=UseLink,
    example={"amount": "750", "currency": "KES", "rail": "usdt-tron"},
    response=InvoiceView,
    status=201,
    tags=_TAGS,
    errors=(404, 409, 429),
    description=(
        "What a customer's checkout calls, without credentials, by the link's public id: makes an invoice "
        "for the link's fixed price, or for the `amount` entered (in the link's currency, within its "
        "bounds; `currency`, optional, is the link's), on the `rail` chosen (default: every rail of the link). "
        "A retry with the same `Idempotency-Key` returns the same invoice. A capped link counts paid invoices plus "
        "open ones: an invoice that expires or is cancelled unpaid gives its use back, and an unpaid one holds its "
        "use only for a short reservation (a few minutes); one client may hold only a couple at once. The "
        "answer's `qr_svg_url`s are the checkout page's public QR route."
    ),
    problems=(
        (PaymentLinkClosed, "the link is deactivated, expired or its paid uses reached its cap"),
        (
            PaymentLinkBusy,
            (
                "a capped link with as many unpaid checkouts open as it lets stand, or whose cap they fill "
                "(Retry-After: when one may free up)"
            ),
        ),
        (
            PaymentLinkTerms,
            ("an amount for a fixed-price link, none for an open one, or a rail the link does not take"),
        ),
        (PaymentLinkCurrency, "a currency other than the link's"),
        (AmountNotWhole, "cents where the link takes whole amounts"),
        (AmountBelowMinimum, "below the link's minimum"),
        (AmountAboveMaximum, "above the link's maximum"),
        (BelowStoreMinimum, "worth less than the store's minimum invoice (KES)"),
        (AboveStoreMaximum, "worth more than the store's maximum invoice (KES)"),
        (UnpricedRail, "no rate source prices the rail's asset in KES"),
    ),
)
@limit_by_client
@idempotent_in(lambda public_id: f"payment_link:{public_id}")
def use_payment_link(public_id: str) -> Response:
    links = payments().payment_links
    try:
        link = links.load_public(public_id)
    except NotFound:
        raise not_found("payment link", public_id) from None
    body = read_body(UseLink)
    currency = asset_by_code(body.currency.value) if body.currency is not None else None
    invoice = links.create_invoice(
        link.public_id, amount=body.amount, rail=body.rail, currency=currency, client=client_address()
    )
    return json_response(InvoiceView.of(invoice, public=True), 201)  # the customer's QR: the checkout page's
