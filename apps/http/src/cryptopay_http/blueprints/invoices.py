"""Invoices: a shop asks to be paid (KES or USDT) and gets one fresh address, amount and wallet URI per rail.

Created with an API key holding ``invoices:write`` (or a merchant login); an ``Idempotency-Key`` makes a retried
create return the first invoice. Reads are tenant-scoped: another merchant's invoice is a 404.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from cryptopay.adapters.evm.qr import qr_svg
from cryptopay.core.errors import InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.fx import Quote
from cryptopay.core.invoices import Invoice, InvoiceException, InvoicePayment, InvoiceState, PaymentOption
from cryptopay.core.invoices.invoice import InvoiceReceivedPayment
from cryptopay.core.invoices.status import is_confirmed
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.payment_uri import payment_uri
from cryptopay.core.payments.invoicing import OpenStore, UnpricedRail
from cryptopay.core.payments.link_amounts import AmountAboveMaximum, AmountBelowMinimum
from cryptopay.core.payments.model import AboveStoreMaximum, BelowStoreMinimum
from cryptopay.core.rails import Rail
from cryptopay.core.text import TextKind
from flask import Blueprint, Response, request

from cryptopay_http.auth import not_found, refused_if_closed, require
from cryptopay_http.blueprints.stores import NO_RAILS, offered_rail_keys
from cryptopay_http.convert import (
    TEXT_PATTERN,
    amount_pattern,
    check_places,
    json_response,
    json_text,
    limits,
    read_body,
)
from cryptopay_http.openapi import PageOf, object_schema, operation, register_schema
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.payments_edge import (
    ACTING_MERCHANT,
    acting_merchant,
    actor,
    check_tenant,
    idempotent_when_keyed,
    payments,
    resolve_rail,
)
from cryptopay_http.query import MERCHANT_ID, Param, enum_param, query
from cryptopay_http.runtime import runtime

__all__ = ["InvoiceView", "bp"]

bp = Blueprint("invoices", __name__)
_TAGS = ("invoices",)
_MAX_ORDER_ID = 100


class InvoiceCurrency(enum.Enum):
    KES = "KES"
    USDT = "USDT"


@attrs.frozen
class CreateInvoice:
    """What a shop wants to be paid: ``amount`` (a string) in ``currency``, on some or all of its store's rails."""

    amount: Decimal
    currency: InvoiceCurrency
    rails: list[str] | None = attrs.field(
        default=None, metadata=limits("rail keys, e.g. usdt-tron", min_items=1, max_items=20, item_max_length=64)
    )
    order_id: str | None = attrs.field(
        default=None, metadata=limits("the shop's reference", min_length=1, max_length=_MAX_ORDER_ID)
    )
    merchant_id: str | None = attrs.field(default=None, metadata=limits("admins only", max_length=64))
    metadata: dict[str, str] | None = attrs.field(
        default=None,
        metadata=limits(
            "the shop's own notes: up to 20 string pairs, returned as given",
            max_items=20,
            key_max_length=40,
            item_max_length=500,
            text=TextKind.PROSE,
        ),
    )
    return_url: str | None = attrs.field(
        default=None,
        metadata=limits(
            "where the hosted checkout page sends the customer back (http or https)",
            max_length=2000,
            pattern=r"^https?://[!-~]+$",
        ),
    )


@attrs.frozen
class QuoteView:
    """The locked FX quote that priced the invoice: the platform buys ``base`` at ``bid`` until ``expires_at``."""

    id: str
    pair: str
    bid: Decimal
    ask: Decimal
    expires_at: datetime

    @classmethod
    def of(cls, quote: Quote) -> QuoteView:
        return cls(quote.id, str(quote.pair), quote.bid, quote.ask, quote.expires_at)


@attrs.frozen
class PaymentOptionView:
    """One way to pay: send ``amount`` of ``asset`` to ``address`` on ``network`` (``uri`` for wallets)."""

    rail: str
    network: str
    asset: str
    address: str
    amount: Decimal
    uri: str
    qr_svg_url: str
    token_contract: str | None = None
    chain_id: int | None = None
    confirmations: int | None = attrs.field(
        default=None, metadata={"description": "blocks a payment waits (the store's speed policy); null: finality"}
    )
    finality: str | None = attrs.field(
        default=None, metadata={"description": "the network signal a payment waits for instead: safe or finalized"}
    )

    @classmethod
    def of(cls, invoice_id: str, option: PaymentOption, *, qr_path: str | None = None) -> PaymentOptionView:
        """``qr_path``: where the reader of this answer gets the QR code (default the merchant's route, which needs
        ``invoices:read``); an answer to someone without credentials passes a public route keyed by a public id
        (``public_qr_path``, a remittance order's), so the link it is given opens for them."""
        rail: Rail = option.rail
        return cls(
            rail=rail.key,
            network=rail.network.name,
            asset=rail.asset.code,
            address=option.address,
            amount=option.due.amount,
            uri=payment_uri(rail, option.address, option.due),
            qr_svg_url=f"{qr_path or f'/v1/invoices/{invoice_id}/qr.svg'}?rail={rail.key}",
            token_contract=rail.token.contract,
            chain_id=rail.network.chain_id,
            confirmations=None if rail.finality else rail.confirmations,
            finality=rail.finality.value if rail.finality else None,
        )


@attrs.frozen
class InvoiceOptionView(PaymentOptionView):
    """One way to pay an invoice, and what has come in on it."""

    received: Money = attrs.field(
        kw_only=True,
        metadata={
            "description": "what the payments on this rail brought, confirmed or not, on time or late (the "
            "`payments` listed here that are not withdrawn), in the rail's asset"
        },
    )
    overpaid: Money = attrs.field(
        kw_only=True,
        metadata={
            "description": "what the on-time payments on this rail brought beyond the price (exception paid_over), "
            "in the rail's asset: the part a refund of the excess returns; zero when none. A late payment is never "
            "in it (exception paid_late: it is the payer's in whole)"
        },
    )

    @classmethod
    def of_invoice(
        cls, invoice: Invoice, option: PaymentOption, overpaid: dict[str, Money], *, qr_path: str | None = None
    ) -> InvoiceOptionView:
        offered = PaymentOptionView.of(invoice.id, option, qr_path=qr_path)
        key = option.rail.key
        return cls(**attrs.asdict(offered, recurse=False), received=invoice.received_on(key), overpaid=overpaid[key])


class PaymentState(enum.Enum):
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


@attrs.frozen
class InvoicePaymentView:
    """One transfer the invoice received on one of its rails, as the chain shows it: the payer's address is the one a
    refund may go to."""

    rail: str
    amount: Money
    tx_hash: str
    log_index: int = attrs.field(metadata={"description": "the transfer's log index (a token) or output (bitcoin)"})
    from_address: str | None = attrs.field(metadata={"description": "the paying address (null where unknown)"})
    confirmations: int = attrs.field(
        metadata={"description": "the depth recorded for it: written when it confirms, 0 before"}
    )
    state: PaymentState = attrs.field(
        metadata={
            "description": "confirming (seen, not deep enough yet), confirmed (counts towards settling), or "
            "withdrawn (a reorg took it off the chain: it no longer counts; if it is mined again it is listed afresh)"
        }
    )
    late: bool = attrs.field(
        metadata={"description": "made after the invoice expired: credited and refundable, not towards the price"}
    )
    paid_at: datetime = attrs.field(metadata={"description": "its block's time (or first sighting, if earlier)"})

    @classmethod
    def of(cls, invoice: Invoice, payment: InvoicePayment) -> InvoicePaymentView:
        """A payment held for a compliance officer reads as any payment still confirming (review8 R5: never tell the
        payer or the merchant); ``InvoiceView.of`` leaves out one returned to its payer or kept for the authorities."""
        if payment.withdrawn:
            state = PaymentState.WITHDRAWN
        elif not payment.awaiting_officer and is_confirmed(payment, invoice.option(payment.rail_key)):
            state = PaymentState.CONFIRMED
        else:
            state = PaymentState.CONFIRMING
        transfer = payment.transfer
        return cls(
            rail=payment.rail_key,
            amount=payment.amount,
            tx_hash=transfer.tx_hash,
            log_index=transfer.index,
            from_address=transfer.from_address,
            confirmations=payment.shown_confirmations,
            state=state,
            late=payment.is_late(invoice.expires_at),
            paid_at=payment.paid_at,
        )


@attrs.frozen
class InvoiceView:
    """An invoice: its state, what is due where, and the quote that priced it (null when priced in the paid asset)."""

    id: str
    merchant_id: str
    order_id: str | None
    metadata: dict[str, str]
    state: InvoiceState
    exception: InvoiceException
    price: Money
    quote: QuoteView | None
    payment_options: list[InvoiceOptionView]
    created_at: datetime
    expires_at: datetime
    cancelled_at: datetime | None = None
    checkout_url: str | None = attrs.field(
        default=None, metadata={"description": "the hosted checkout page to send the customer to (no login)"}
    )
    return_url: str | None = None
    shortfall: Money | None = attrs.field(
        default=None,
        metadata={
            "description": "exception paid_under_tolerated: what the payments left unpaid of the price, which the "
            "store's tolerance accepted (else null)"
        },
    )
    payments: list[InvoicePaymentView] = attrs.field(
        factory=list,
        metadata={
            "description": "every transfer received on the invoice's rails, oldest first (what each rail received "
            "in all, and beyond the price, is on its payment option: `received`, `overpaid`)"
        },
    )

    @classmethod
    def of(cls, invoice: Invoice, *, public: bool = False) -> InvoiceView:
        """``public``: the answer goes to someone without credentials (a payment link's customer), so each option's
        QR code is the hosted checkout page's (``/pay/<public id>/qr.svg``), not the merchant's route."""
        qr_path = public_qr_path(invoice) if public else None
        overpaid = invoice.overpaid()
        return cls(
            id=invoice.id,
            merchant_id=invoice.merchant_id,
            order_id=invoice.order_id,
            metadata=dict(invoice.metadata),
            state=invoice.state,
            exception=invoice.exception,
            price=invoice.price,
            quote=_quote(invoice),
            payment_options=[
                InvoiceOptionView.of_invoice(invoice, o, overpaid, qr_path=qr_path) for o in invoice.options
            ],
            created_at=invoice.created_at,
            expires_at=invoice.expires_at,
            cancelled_at=invoice.cancelled_at,
            checkout_url=_checkout_url(invoice),
            return_url=invoice.return_url,
            shortfall=invoice.shortfall() if invoice.exception is InvoiceException.PAID_UNDER_TOLERATED else None,
            payments=[InvoicePaymentView.of(invoice, p) for p in invoice.payments if not p.kept_out],
        )


def public_qr_path(invoice: Invoice) -> str | None:
    """The QR route of the invoice's hosted checkout page (public by its unguessable id, rate-limited per client
    address), or None for an invoice made before checkout pages (it keeps the merchant's route)."""
    return None if invoice.public_id is None else f"/pay/{invoice.public_id}/qr.svg"


def _checkout_url(invoice: Invoice) -> str | None:
    if invoice.public_id is None:
        return None
    return f"{runtime().settings.public_url}/pay/{invoice.public_id}"


def _quote(invoice: Invoice) -> QuoteView | None:
    if not invoice.quote_ids:
        return None
    quote = payments().quotes.get(invoice.quote_ids[0])
    if quote is None:
        raise NotFound(f"quote {invoice.quote_ids[0]} of invoice {invoice.id} is missing")
    return QuoteView.of(quote)


def _create_invoice_schema(components: dict[str, Any]) -> dict[str, Any]:
    """The fields, plus the amount's places and positivity per currency (what ``_price`` enforces)."""
    variants = []
    for currency in InvoiceCurrency:
        places = asset_by_code(currency.value).decimals
        amount = {"type": "string", "pattern": amount_pattern(places, positive=True)}
        variants.append({"properties": {"currency": {"const": currency.value}, "amount": amount}})
    return {**object_schema(CreateInvoice, components), "oneOf": variants}


register_schema(CreateInvoice, _create_invoice_schema)


def _price(body: CreateInvoice) -> Money:
    try:
        check_places(body.amount, asset_by_code(body.currency.value).decimals)
        price = Money.of(body.amount, body.currency.value)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="amount") from None
    if not price.is_positive():
        raise InvalidInput("an invoice amount must be positive", field="amount")
    if body.order_id is not None and not 0 < len(body.order_id) <= _MAX_ORDER_ID:
        raise InvalidInput(f"must be 1 to {_MAX_ORDER_ID} characters", field="order_id")
    return price


def _accepted_rails(merchant_id: str, keys: list[str] | None) -> tuple[OpenStore, list[str] | None]:
    """The merchant's store and the chosen rail keys, each known and accepted by it (422 on ``rails`` otherwise).
    A closed merchant is refused by the same read (403 ``merchant_closed``, audited: ``Invoicing.open_store``)."""
    opened = refused_if_closed(lambda: payments().invoicing.open_store(merchant_id))
    if opened is None:
        raise Refused(f"merchant {merchant_id} has no store settings yet: PUT /v1/merchants/{merchant_id}/store")
    store = opened.settings
    if keys is None:
        return opened, None
    if not keys:
        raise InvalidInput("choose at least one rail, or leave rails out for every rail of the store", field="rails")
    chosen = [resolve_rail(key).key for key in keys]
    accepted = {rail.key for rail in store.rails}
    for key in chosen:
        if key not in accepted:
            raise InvalidInput(
                f"the store does not accept {key}; it accepts {', '.join(sorted(accepted))}", field="rails"
            )
    return opened, chosen


def load_invoice(invoice_id: str) -> Invoice:
    """The invoice if the caller may see it; the same 404 whether it is missing or another tenant's."""
    try:
        invoice = payments().invoicing.get_invoice(invoice_id)
    except NotFound:
        raise not_found("invoice", invoice_id) from None
    check_tenant("invoice", invoice_id, invoice.merchant_id)
    return invoice


@bp.post("/v1/invoices")
@operation(
    "Create an invoice",
    request=CreateInvoice,
    example={
        "amount": "5000",
        "currency": "KES",
        "rails": ["usdt-ethereum"],
        "order_id": "1001",
        "metadata": {"cart": "c-88"},
        "return_url": "https://shop.example.co.ke/orders/1001",
    },
    response=InvoiceView,
    status=201,
    tags=_TAGS,
    errors=(404,),
    description=(
        "Creates an invoice for `amount` in `currency` (KES, priced into crypto at the current rate, or a "
        "crypto amount) payable on the store's rails (or the ones chosen in `rails`), each with its own "
        "deposit address and amount due. The invoice is `new` until paid, expires at `expires_at`, and is "
        "followed by webhook events (`invoice.paid`, ...). Its URL is in `Location`; `hosted_url` is the "
        "customer's checkout page."
    ),
    problems=(
        *ACTING_MERCHANT,
        (Refused, "the merchant has no store settings yet (PUT /v1/merchants/{merchant_id}/store)"),
        (
            InvalidInput,
            (
                "a rail the store does not accept or the server does not offer, a bad return_url, "
                "or an amount with too many places"
            ),
        ),
        (UnpricedRail, "no rate source prices a chosen rail's asset in KES"),
        (BelowStoreMinimum, "worth less than the store's min_invoice_amount (in KES)"),
        (AboveStoreMaximum, "worth more than the store's max_invoice_amount (in KES)"),
        (AmountBelowMinimum, "a store without min_invoice_amount: below KES 10 or USDT 1 (the links' default)"),
        (AmountAboveMaximum, "a store without max_invoice_amount: above KES 1,000,000 or USDT 10,000"),
    ),
)
@require(scope="invoices:write", closing_read_by_view=True)  # the store's read refuses a closed merchant (R22)
@idempotent_when_keyed
def create_invoice() -> Response:
    body = read_body(CreateInvoice)
    merchant_id = acting_merchant(body.merchant_id)
    price = _price(body)
    store, rails = _accepted_rails(merchant_id, body.rails)
    invoice = payments().invoicing.create_invoice(
        merchant_id,
        price,
        rails=rails,
        store=store,
        order_id=body.order_id,
        actor=actor(),
        metadata=body.metadata,
        return_url=body.return_url,
    )
    return json_response(InvoiceView.of(invoice), 201, headers={"Location": f"/v1/invoices/{invoice.id}"})


@bp.get("/v1/invoices")
@operation(
    "List the merchant's invoices (admins: ?merchant_id=)",
    response=PageOf(InvoiceView),
    tags=_TAGS,
    description=(
        "The merchant's invoices, newest first, with their state, rails, amounts due and received. Admins "
        "name the merchant with `merchant_id`. `state` keeps the invoices in that state; `order_id` those of "
        "the shop's order (compared without case): an unknown state is a 422 on `state`."
    ),
    problems=(*ACTING_MERCHANT,),
)
@require(scope="invoices:read")
@paginated("inv")
@query(
    enum_param("state", lambda: [s.value for s in InvoiceState], "only invoices in this state"),
    Param(
        "order_id",
        {"type": "string", "minLength": 1, "maxLength": _MAX_ORDER_ID, "pattern": TEXT_PATTERN},
        description="only the invoices of this order id of the shop's (compared without case)",
    ),
    MERCHANT_ID,
)
def list_invoices() -> Response:
    merchant_id = acting_merchant(request.args.get("merchant_id"))
    state_text, order_id = request.args.get("state"), request.args.get("order_id")
    state = InvoiceState(state_text) if state_text else None
    invoicing = payments().invoicing

    def fetch(before: str | None, limit: int) -> list[Invoice]:
        return invoicing.list_invoices(merchant_id, before=before, limit=limit, state=state, order_id=order_id)

    return json_response(paginate(fetch, InvoiceView.of))


@bp.get("/v1/invoices/<invoice_id>")
@operation(
    "Read an invoice",
    response=InvoiceView,
    tags=_TAGS,
    description=(
        "One invoice: its state, price, the options (rail, address, amount due) it offers, what it "
        "received, and when it expires. Another merchant's invoice is a 404."
    ),
)
@require(scope="invoices:read")
def get_invoice(invoice_id: str) -> Response:
    """The hot read: this process keeps the rendered JSON until the invoice changes (``Invoicing.render_invoice``);
    who may see it is decided on every request, by the merchant kept with it."""
    try:
        rendered = payments().invoicing.render_invoice(invoice_id, _invoice_json)
    except NotFound:
        raise not_found("invoice", invoice_id) from None
    check_tenant("invoice", invoice_id, rendered.merchant_id)
    return Response(rendered.body, mimetype="application/json")


def _invoice_json(invoice: Invoice) -> bytes:
    return json_text(InvoiceView.of(invoice)).encode()


@bp.post("/v1/invoices/<invoice_id>/cancel")
@operation(
    "Cancel an invoice that has received nothing",
    response=InvoiceView,
    tags=_TAGS,
    description=(
        "Withdraws an invoice that has received nothing: it expires now (`invoice.cancelled`). Cancelling "
        "a cancelled invoice again changes nothing. Its addresses stay watched, so a payment that still "
        "comes is credited as a late payment (`paid_late`) and can be refunded."
    ),
    problems=(
        (InvoiceReceivedPayment, "the invoice has received a payment (seen or confirmed): refund it instead"),
        (InvalidState, "the invoice is no longer new (paid, expired or marked)"),
    ),
)
@require(scope="invoices:write")
def cancel_invoice(invoice_id: str) -> Response:
    invoice = load_invoice(invoice_id)
    cancelled = payments().invoicing.cancel_invoice(invoice.id, actor=actor())
    return json_response(InvoiceView.of(cancelled))


@bp.get("/v1/invoices/<invoice_id>/qr.svg")
@operation(
    "A QR code of the wallet URI for one rail (?rail=usdt-tron; default the first)",
    tags=_TAGS,
    media_type="image/svg+xml",
    errors=(422,),
    description=(
        "An SVG QR code of the payment URI (address and amount due) of one of the invoice's rails, for a "
        "customer's wallet to scan; by default its first rail. Cached privately for an hour (an option "
        "never changes once offered)."
    ),
    problems=((NotFound, "the invoice does not offer the rail named"),),
)
@require(scope="invoices:read")
@query(enum_param("rail", offered_rail_keys, "the rail to pay on (default: the invoice's first)", when_empty=NO_RAILS))
def invoice_qr(invoice_id: str) -> Response:
    invoice = load_invoice(invoice_id)
    key = request.args.get("rail")
    try:
        option = invoice.option(key.strip().lower()) if key else invoice.options[0]
    except NotFound:
        offered = ", ".join(o.rail.key for o in invoice.options)
        raise NotFound(f"invoice {invoice.id} has no QR code for {key}; it offers {offered}") from None
    image = qr_svg(payment_uri(option.rail, option.address, option.due))
    # An option never changes once offered (accepting a wrong-network payment only adds one), so the image can be
    # cached (privately: it is a tenant's object).
    return Response(image, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})
