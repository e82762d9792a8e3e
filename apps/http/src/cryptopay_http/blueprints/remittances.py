"""Remittances from abroad (``/v1/wallet/remittances``): public, for senders with no account.

``POST /v1/wallet/remittances`` opens an order (recipient phone and name, an amount in KES received or USDT sent,
the sender's originator data and a refund address) and answers where to pay: the USDT due to a one-time address on
each network the refund address belongs to. It needs an unguessable ``Idempotency-Key`` (a random UUID; a retry
replays the first answer, so a lost response never opens two orders) and is rate-limited per client address. ``GET
/v1/wallet/remittances/{public_id}`` is the order's status by its unguessable public id (the recipient's phone
masked), and ``.../{public_id}/qr.svg?rail=`` the QR code of one payment option (each option's ``qr_svg_url``: the
sender has no merchant key, so the merchant route of the desk's invoice would be a 401; review H5). Paying out,
retries and refunds are the worker's (``remittances.advance``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ParamSpec

import attrs
from cryptopay.adapters.evm.qr import qr_svg
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.compliance.travel_rule import IncompleteTravelRuleData
from cryptopay.core.errors import InvalidInput, InvalidName, LimitExceeded, NotFound, Unavailable
from cryptopay.core.identity import RateLimited
from cryptopay.core.mobile_money import mask_msisdn
from cryptopay.core.money import Money
from cryptopay.core.payment_uri import payment_uri
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.payments.model import RefundState
from cryptopay.core.payments.wrong_network import WrongNetworkPayment, WrongNetworkState
from cryptopay.core.remittances import RemittanceOrder, RemittanceRoute, RemittanceState, Sender
from cryptopay.core.remittances.model import ImplausibleSender
from cryptopay.core.remittances.service import OrderRequest, RecipientNotMpesa
from cryptopay.core.text import TextKind
from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest

from cryptopay_http.amounts import CURRENCY, AmountRule
from cryptopay_http.auth import limit_by_client, limit_reads_by_client, not_found
from cryptopay_http.blueprints.invoices import PaymentOptionView
from cryptopay_http.blueprints.wallet import PHONE_PATTERN
from cryptopay_http.convert import (
    TRIMMED_HINT,
    TRIMMED_NAME_PATTERN,
    TRIMMED_PATTERN,
    TRIMMED_PROSE_PATTERN,
    json_response,
    limits,
    read_body,
)
from cryptopay_http.idempotency import HEADER, idempotent_in, key_parameter, presented_key
from cryptopay_http.openapi import annotate, operation
from cryptopay_http.pages.remittance_notice import wrong_payment_notice
from cryptopay_http.query import Param, query
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("remittances", __name__)
_TAGS = ("remittances",)
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
P = ParamSpec("P")


@attrs.frozen
class SenderBody:
    """The sender (the originator): name and country always; at or above the Travel Rule threshold also an
    address, or an identity number, or a date and place of birth."""

    name: str = attrs.field(
        metadata=limits(
            "full name: letters of any script, spaces, apostrophes, hyphens and full stops (no digits, links or"
            " addresses: 422 invalid_name)",
            min_length=1,
            max_length=70,
            pattern=TRIMMED_NAME_PATTERN,
            text=TextKind.NAME,
        )
    )
    country: str = attrs.field(metadata=limits("ISO 3166 alpha-2 country of residence, e.g. GB", pattern="^[A-Z]{2}$"))
    address: str | None = attrs.field(
        default=None,
        metadata=limits(
            "postal address", max_length=200, pattern=TRIMMED_PROSE_PATTERN, hint=TRIMMED_HINT, text=TextKind.PROSE
        ),
    )
    date_of_birth: str | None = attrs.field(default=None, metadata=limits("YYYY-MM-DD", pattern=_DATE))
    place_of_birth: str | None = attrs.field(
        default=None,
        metadata=limits("town and country of birth", max_length=100, pattern=TRIMMED_NAME_PATTERN, text=TextKind.NAME),
    )
    id_number: str | None = attrs.field(
        default=None, metadata=limits("passport or national identity number", max_length=35, pattern=TRIMMED_PATTERN)
    )

    def sender(self) -> Sender:
        try:
            born = date.fromisoformat(self.date_of_birth) if self.date_of_birth else None
        except ValueError:
            raise InvalidInput("not a date: use YYYY-MM-DD", field="sender.date_of_birth") from None
        return Sender(
            name=self.name,
            country=self.country,
            address=self.address,
            date_of_birth=born,
            place_of_birth=self.place_of_birth,
            id_number=self.id_number,
        )


@attrs.frozen
class RemittanceRequest:
    recipient_phone: str = attrs.field(
        metadata=limits("the recipient's Kenyan mobile number: 07…, +2547…", max_length=32, pattern=PHONE_PATTERN)
    )
    recipient_name: str = attrs.field(
        metadata=limits(
            "the recipient's name", min_length=1, max_length=100, pattern=TRIMMED_NAME_PATTERN, text=TextKind.NAME
        )
    )
    sender: SenderBody
    refund_address: str = attrs.field(
        metadata=limits(
            "the sender's USDT address for a refund; the order is paid on its network", min_length=1, max_length=128
        )
    )
    amount: Any = attrs.field(
        default=None,
        kw_only=True,
        metadata=limits("KES the recipient receives, or USDT the sender sends, as a decimal string"),
    )
    currency: str | None = attrs.field(default=None, kw_only=True, metadata=limits(CURRENCY))


# Deprecated: ``amount`` as an object {"amount": "5000", "asset": "KES"}.
REMITTANCE_AMOUNT = AmountRule(("KES", "USDT"), legacy_object=True)
REMITTANCE_AMOUNT.document(RemittanceRequest)


@attrs.frozen
class WrongPaymentView:
    """Coins that reached the order's address but cannot pay it: another asset (USDC to its USDT address) or a
    network it does not list. They are sent back whole to the refund address."""

    amount: Money
    network: str
    wrong: str = attrs.field(metadata={"description": "asset (another token) or network (one the order does not list)"})
    state: str = attrs.field(
        metadata={"description": "pending (seen; sent back once as deep as the network asks), refunded, or accepted"}
    )
    tx_hash: str


@attrs.frozen
class RemittanceView:
    """An order: what the sender pays (``usdt``) where (``payment_options``, until ``expires_at``), what the
    recipient receives (``kes``), and how far it got. ``state``: awaiting_payment, paying_out (also while an operator
    decides: the sender is never told an order is held), paid_out, refunding, refunded, expired (also an order a
    sanctions list refused before it was paid, as was done until tipoff3: the sender is never told a list
    matched; a match now holds the order once paid, which reads paying_out).
    ``excess``/``excess_refund``: what arrived beyond the order, and its refund; ``wrong_payments`` and ``notice``:
    coins that reached its address but cannot pay it (USDC to a USDT address), said in English and Swahili."""

    public_id: str
    state: RemittanceState
    recipient_phone: str = attrs.field(metadata={"description": "masked"})
    recipient_name: str
    usdt: Money
    kes: Money
    charge: Money = attrs.field(metadata={"description": "M-Pesa's charge, included in usdt"})
    rate: str = attrs.field(metadata={"description": "the locked USDT/KES bid"})
    payment_options: list[PaymentOptionView]
    expires_at: datetime
    route: RemittanceRoute | None = attrs.field(
        metadata={
            "description": "deprecated: always null. Whether the shillings went to M-Pesa or to the recipient's "
            "wallet is not told: a wallet is credited only when its verified legal name is the order's "
            "`recipient_name`, so the route confirmed a stranger's verified name to anyone with the public id"
        }
    )
    created_at: datetime
    paid_out_at: datetime | None
    finished_at: datetime | None
    excess: Money | None = attrs.field(
        default=None,
        metadata={
            "description": "USDT that arrived beyond the order (a second or late payment, an overpayment, or what an "
            "order that expired unpaid received), or another asset or network the order does not ask for (USDC sent "
            "to a USDT order's address: refunded whole, in that asset), refunded automatically to the refund address "
            "unless too small to send back (at most the floor or the network's fee: `excess_refund` then reads "
            "`needs_operator`)"
        },
    )
    excess_refund: str | None = attrs.field(
        default=None,
        metadata={
            "description": "the state of that refund: requested, sent, confirmed, failed, or needs_operator (it "
            "could not be sent automatically, or a wrong payment is too small to send back: support decides)"
        },
    )
    excess_kept: Money | None = attrs.field(
        default=None,
        metadata={
            "description": "what arrived beyond the order and was not sent back: the network's fee each refund of "
            "an excess deducts, and an excess too small to refund (at most 1 USDT by default, or the network's fee)"
        },
    )
    wrong_payments: list[WrongPaymentView] = attrs.field(
        factory=list,
        metadata={
            "description": "coins that reached the order's address in an asset or on a network it does not take "
            "(USDC sent to its USDT address): they do not pay it, so its state stays as it was (awaiting_payment "
            "until USDT arrives), and are sent back whole to the refund address (their refund is `excess_refund`), "
            "unless too small to send back (at most the floor, 1 USDT by default for a dollar stablecoin, or the "
            "network's fee): then they stay `pending`, `excess_refund` reads `needs_operator` and `notice` says so"
        },
    )
    notice: dict[str, str] | None = attrs.field(
        default=None,
        metadata={
            "description": "for the sender, when `wrong_payments` has any: what arrived, why it does not pay the "
            "order, where it goes and what the order still awaits; by language (`en`, `sw`)"
        },
    )

    @classmethod
    def of(cls, order: RemittanceOrder) -> RemittanceView:
        remittances = runtime().services.remittances
        invoice = remittances.invoice(order)
        refunds = remittances.excess_refunds(order)
        kept = [r.amount for r in refunds if r.state is not RefundState.FAILED] or [r.amount for r in refunds[-1:]]
        kept = [
            amount for amount in kept if amount.asset == kept[-1].asset
        ]  # a stray USDC refund is not summed in USDT
        excess = sum(kept[1:], kept[0]) if kept else None
        state = refunds[-1].state.value if refunds else None
        wrong = remittances.wrong_payments(order)
        shown, paid_out_at, finished_at = order.public_status(runtime().services.clock.now())  # R9-2: no route
        return cls(
            wrong_payments=[
                WrongPaymentView(p.transfer.amount, p.network, p.wrong, p.state.value, p.transfer.tx_hash)
                for p in wrong
            ],
            notice=_notice(order, wrong[-1]) if wrong else None,
            excess=excess,
            excess_refund="needs_operator" if order.excess_note or any(_held(order, p) for p in wrong) else state,
            excess_kept=order.kept() if order.excess_kept else None,
            public_id=order.public_id,
            state=shown,  # a hold is never shown (review7 F5: tipping-off), nor the route (R9-2)
            recipient_phone=mask_msisdn(order.recipient_phone),
            recipient_name=order.recipient_name,
            usdt=order.usdt,
            kes=order.kes,
            charge=order.charge,
            rate=str(order.bid),
            payment_options=[
                PaymentOptionView.of(invoice.id, option, qr_path=f"/v1/wallet/remittances/{order.public_id}/qr.svg")
                for option in invoice.options
            ],
            expires_at=invoice.expires_at,
            route=None,  # never told (review7 F13): the wallet route means the verified legal name matched
            created_at=order.created_at,
            paid_out_at=paid_out_at,
            finished_at=finished_at,
        )


def _held(order: RemittanceOrder, stray: WrongNetworkPayment) -> bool:
    """Whether ``stray`` waits for an operator as too small to send back on chain: the worker marked it so (at most
    the floor or the network's fee, ``RemittanceOrder.strays_held``: lastread B1, the floor alone missed one under
    the fee), or it is at most the floor (held whatever the fee: so before the worker's next run too)."""
    if stray.state is not WrongNetworkState.PENDING:
        return False
    floor = runtime().services.remittances.rules.stray_floor(stray.transfer.amount.asset)
    return stray.id in order.strays_held or (floor is not None and stray.transfer.amount <= floor)


def _notice(order: RemittanceOrder, latest: WrongNetworkPayment) -> dict[str, str]:
    """The sender's explanation of the latest wrong payment, in English and Swahili."""
    waiting = order.state is RemittanceState.AWAITING_PAYMENT
    return wrong_payment_notice(
        latest.transfer.amount,
        latest.network,
        sent_back=latest.state is WrongNetworkState.REFUNDED,
        still_due=order.usdt if waiting else None,
        too_small=_held(order, latest),
    )


def _keyed(view: Callable[P, Response]) -> Callable[P, Response]:
    """``Idempotency-Key`` required and unguessable (``anonymous_key``): senders have no account to scope it to, and
    behind one NAT or proxy they share an address, so the key alone tells one sender's order from another's (and a
    retry from another address, a phone's next connection, is still the same operation)."""
    once = idempotent_in(lambda: "remittance_orders")(view)

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        if presented_key() is None:
            raise BadRequest(f"this operation needs an {HEADER} header (a random UUID per intended operation)")
        return once(*args, **kwargs)

    facts = dict(getattr(once, "__openapi__", {}))  # the key documented as required, as it is
    optional = tuple(p for p in facts.get("parameters", ()) if p.get("name") != HEADER)
    parameters = (*optional, key_parameter(required=True, anonymous=True))
    note = (
        f"required: send an `{HEADER}`, a random UUID or at least 22 random URL-safe characters, new for each order "
        "(no login here, so every sender shares the key space); a retry with the same key and body gets the first "
        "answer again and opens no second order."
    )
    wrapper.__openapi__ = {**facts, "parameters": parameters, "idempotency": note}  # type: ignore[attr-defined]
    return annotate(wrapper, errors=(400,))


@bp.post("/v1/wallet/remittances")
@operation(
    "Send money to Kenya: open a remittance order (no account)",
    request=RemittanceRequest,
    response=RemittanceView,
    status=201,
    tags=_TAGS,
    errors=(409, 422, 503),
    description=(
        "Opens a remittance order without an account: the sender names the recipient (a Kenyan phone and "
        "name), the amount (`KES` the recipient receives, whole shillings, or `USDT` the sender sends), "
        "the sender's particulars and a refund address. The answer locks a rate until `expires_at` and "
        "gives the USDT due and a one-time address per network; once the payment is confirmed, the "
        "recipient is paid by M-Pesa (or into their wallet if the number has one). What arrives beyond "
        "the order is refunded to the refund address. Follow it at its URL (`Location`, by its public "
        "id)."
    ),
    problems=(
        (
            InvalidInput,
            (
                "a bad recipient phone or name, a refund address on no network USDT is sent on "
                "here, an amount not whole shillings, below the minimum or above what one M-Pesa "
                "payment carries"
            ),
        ),
        (InvalidName, "the sender's name has what a name does not (digits, a link)"),
        (
            RecipientNotMpesa,
            "the recipient's number is not Safaricom's (Airtel, Telkom): M-Pesa cannot pay it (said alike whether "
            "a cryptopay wallet holds the number or not)",
        ),
        (InternalAddress, "the refund address is one cryptopay controls (a hot wallet or a deposit address)"),
        (IncompleteTravelRuleData, "the amount needs the sender's full originator data (the Travel Rule)"),
        (
            ImplausibleSender,
            "a sender field that cannot be true (the problem's `field`): a country ISO 3166-1 does not assign, "
            "a name without two letters, an address without a street's name, an identity number under 4 "
            "characters, a birth date not 18 to 120 years ago",
        ),
        (LimitExceeded, "past M-Pesa's daily limit for the recipient"),
        (
            Blocked,
            "a compliance rule refused the order: the sender's country is under a FATF call for action, or the "
            "refund address is on a sanctions list; do not retry (a sender's or recipient's name is never refused "
            "here: the order opens as any other)",
        ),
        (Unavailable, "no rate to price USDT in KES now"),
    ),
)
@limit_by_client
@_keyed
def create_remittance() -> Response:
    body = read_body(RemittanceRequest)
    order = runtime().services.remittances.create(
        OrderRequest(
            recipient_phone=body.recipient_phone,
            recipient_name=body.recipient_name,
            amount=REMITTANCE_AMOUNT.money(body),
            sender=body.sender.sender(),
            refund_address=body.refund_address,
        )
    )
    headers = {"Location": f"/v1/wallet/remittances/{order.public_id}"}
    return json_response(RemittanceView.of(order), 201, headers)


@bp.get("/v1/wallet/remittances/<public_id>")
@operation(
    "A remittance order's status, by its public id",
    response=RemittanceView,
    tags=_TAGS,
    description=(
        "An order's state (awaiting_payment, paying_out, paid_out, refunding, refunded, expired), what is due "
        "and where, the locked rate, and any excess and its refund, by the public id given when it was opened. "
        "An order a compliance rule stopped reads as any other: one held reads paying_out (or refunding), one "
        "refused before it was paid (orders opened before sanctions matches were held instead) reads expired (its "
        "invoice closed: do not pay it). The recipient's phone is masked."
    ),
    problems=(
        (NotFound, "no such order"),
        (RateLimited, "too many reads from this address (Retry-After says when)"),
    ),
)
@limit_reads_by_client
def remittance_status(public_id: str) -> Response:
    # no credential, but a person's name and amounts behind a bearer id: no cache keeps it (review3 I23)
    return json_response(RemittanceView.of(_public_order(public_id)), headers={"Cache-Control": "no-store"})


# A rail key (the order's rails are the remittance desk's, not the merchant stores' of ``offered_rail_keys``).
_RAIL = Param(
    "rail",
    {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9]+(-[a-z0-9]+)+$"},
    description="the rail to pay on, one of the order's payment_options (default: its first)",
)


@bp.get("/v1/wallet/remittances/<public_id>/qr.svg")
@operation(
    "A QR code to pay a remittance order on one rail (?rail=usdt-tron; default the first)",
    tags=_TAGS,
    media_type="image/svg+xml",
    errors=(404, 422),
    description=(
        "An SVG QR code of the payment URI (address and USDT due) of one of the order's payment options, by the "
        "order's public id, without an account: what each option's `qr_svg_url` names. It shows nothing the "
        "order's status does not. Cached privately for an hour."
    ),
    problems=(
        (NotFound, "no such order, or the order does not offer the rail named"),
        (RateLimited, "too many reads from this address (Retry-After says when)"),
    ),
)
@limit_reads_by_client
@query(_RAIL)
def remittance_qr(public_id: str) -> Response:
    order = _public_order(public_id)
    invoice = runtime().services.remittances.invoice(order)
    key = (request.args.get("rail") or "").strip().lower()
    option = next((o for o in invoice.options if o.rail.key == key), None) if key else invoice.options[0]
    if option is None:
        offered = ", ".join(o.rail.key for o in invoice.options)
        raise NotFound(f"remittance order {order.public_id} has no QR code for {key}; it offers {offered}")
    # The QR encodes the option's wallet URI, which the order's status already shows (address, amount, network).
    image = qr_svg(payment_uri(option.rail, option.address, option.due))
    return Response(image, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


def _public_order(public_id: str) -> RemittanceOrder:
    try:
        return runtime().services.remittances.get_public(public_id)
    except NotFound:
        raise not_found("remittance order", public_id) from None
