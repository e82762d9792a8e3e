"""Payments on the wrong EVM network: a token sent to an invoice's address on an EVM network it did not ask for.

They are recorded against the invoice and never credited by themselves (``core.payments.wrong_network``).
``GET /v1/invoices/{id}/wrong-network-payments`` lists them (``invoices:read``); ``POST .../{payment_id}/accept``
(``invoices:write``) takes a pending one into the invoice at its terms: it is then confirmed at that network's depth
and credited like any payment, and can be refunded through ``POST /v1/invoices/{id}/refunds`` on that rail.
``POST .../{payment_id}/refund`` sends a pending one back whole to the payer's address instead (``refunds:write``,
a step-up for user sessions, an ``Idempotency-Key``: money leaves), never from the merchant's balance.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput, InvalidState, Refused
from cryptopay.core.money import Money
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.payments.wrong_network import (
    NotThePayer,
    WrongNetworkNotAcceptable,
    WrongNetworkPayment,
    WrongNetworkState,
)
from flask import Blueprint, Response

from cryptopay_http.auth import require
from cryptopay_http.blueprints.invoices import load_invoice
from cryptopay_http.blueprints.refunds import INTERNAL, RefundView, step_up_for_users
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import newest_first, paginate, paginated
from cryptopay_http.payments_edge import actor, idempotent_when_keyed, payments

__all__ = ["WrongNetworkPaymentView", "bp"]

bp = Blueprint("wrong_network", __name__)
_TAGS = ("invoices",)


@attrs.frozen
class WrongNetworkPaymentView:
    """A payment seen at the invoice's address on ``network``, which the invoice did not ask for (``invoice_rails``):
    ``wrong`` is ``network`` (a network it did not ask for) or ``asset`` (another token on a network it asked for,
    USDC to a USDT invoice: refunded, never accepted).

    ``pending``: waiting for a decision, not credited; ``withdrawn``: its block left the chain; ``accepted``: taken
    into the invoice as a payment on ``rail`` (see the invoice's payment options and state)."""

    id: str
    invoice_id: str
    state: WrongNetworkState
    wrong: str
    network: str
    rail: str
    amount: Money
    tx_hash: str
    log_index: int
    from_address: str | None
    block_number: int | None
    confirmations: int
    invoice_rails: list[str]
    seen_at: datetime
    updated_at: datetime | None
    decided_by: str | None
    reason: str
    refund_id: str | None

    @classmethod
    def of(cls, p: WrongNetworkPayment) -> WrongNetworkPaymentView:
        return cls(
            id=p.id,
            invoice_id=p.invoice_id,
            state=p.state,
            wrong=p.wrong,
            network=p.network,
            rail=p.rail_key,
            amount=p.transfer.amount,
            tx_hash=p.transfer.tx_hash,
            log_index=p.transfer.index,
            from_address=p.transfer.from_address,
            block_number=p.transfer.block_number,
            confirmations=p.confirmations,
            invoice_rails=list(p.invoice_rails),
            seen_at=p.seen_at,
            updated_at=p.updated_at,
            decided_by=p.decided_by,
            reason=p.reason,
            refund_id=p.refund_id,
        )


@attrs.frozen
class RefundWrongNetworkPayment:
    """Where the coins go back: the address that paid them (omitted: that address, as recorded; review R27)."""

    address: str | None = attrs.field(
        default=None,
        metadata=limits(
            "the address that paid, on the payment's network (omit it: the recorded payer)", max_length=128
        ),
    )


def _payment_of(invoice_id: str, payment_id: str) -> WrongNetworkPayment:
    """The invoice's wrong-network payment if the caller may see the invoice; one 404 otherwise."""
    return payments().detection.invoice_wrong_network_payment(load_invoice(invoice_id).id, payment_id)


@bp.get("/v1/invoices/<invoice_id>/wrong-network-payments")
@operation(
    "Payments sent to the invoice's address on an EVM network it did not ask for",
    response=PageOf(WrongNetworkPaymentView),
    tags=_TAGS,
    description=(
        "Payments sent to one of the invoice's addresses on an EVM network the invoice did not ask for "
        "(e.g. USDT on BSC to an Ethereum address). They are never credited by themselves: the merchant "
        "accepts one (the invoice counts it) or refunds it whole to the payer. Newest first, a page at a "
        "time as every list (`limit`, `cursor`), with their state, amount, transaction and confirmations."
    ),
)
@require(scope="invoices:read")
@paginated("wnp")
def list_wrong_network_payments(invoice_id: str) -> Response:
    invoice = load_invoice(invoice_id)
    found = payments().detection.wrong_network_payments(invoice_id=invoice.id)
    return json_response(paginate(newest_first(found), WrongNetworkPaymentView.of))


@bp.post("/v1/invoices/<invoice_id>/wrong-network-payments/<payment_id>/accept")
@operation(
    "Accept a pending wrong-network payment into its invoice",
    response=WrongNetworkPaymentView,
    tags=_TAGS,
    errors=(404,),
    description=(
        "Takes a pending wrong-network payment into its invoice: the invoice offers that network's rail "
        "at the terms of its option in the same asset and counts the payment, confirmed at that network's "
        "depth and credited like any other. Audited."
    ),
    problems=(
        (InvalidState, "the payment is no longer pending"),
        (
            WrongNetworkNotAcceptable,
            (
                "an asset the invoice does not ask for, a rail this server does not offer, or a "
                "network without a hot wallet to sweep it"
            ),
        ),
    ),
)
@require(scope="invoices:write")
@idempotent_when_keyed
def accept_wrong_network_payment(invoice_id: str, payment_id: str) -> Response:
    payment = _payment_of(invoice_id, payment_id)
    accepted = payments().detection.accept_wrong_network(payment.id, actor=actor())
    return json_response(WrongNetworkPaymentView.of(accepted))


@bp.post("/v1/invoices/<invoice_id>/wrong-network-payments/<payment_id>/refund")
@operation(
    "Send a pending wrong-network payment back whole to the payer",
    request=RefundWrongNetworkPayment,
    response=RefundView,
    status=201,
    tags=_TAGS,
    errors=(404, 503),
    description=(
        "Sends a pending wrong-network payment back whole to the address that paid it (`from_address`) on the "
        "network it came on, from the coins themselves, never from the merchant's balance: the coins are the "
        "payer's, so `address` may be omitted and, if given, must be that address (another one is an operator's "
        "decision, `payer_address_only`). It waits until the payment is as deep as that network asks. Followed "
        "like any refund (its URL is in `Location`)."
    ),
    problems=(
        (InvalidState, ("the payment is not pending, or is being refunded already (unless that refund failed)")),
        (
            Refused,
            ("not yet as deep as the network asks (try again later), or the network has no hot wallet to send refunds"),
        ),
        (InvalidInput, "not a valid address on the payment's network, or the zero or a burn address"),
        (NotThePayer, "not the address that paid (or that address is unknown): only an operator may name another"),
        (InternalAddress, INTERNAL),
    ),
)
@require(scope="refunds:write")
@step_up_for_users
@idempotent
def refund_wrong_network_payment(invoice_id: str, payment_id: str) -> Response:
    payment = _payment_of(invoice_id, payment_id)
    body = read_body(RefundWrongNetworkPayment)
    refund = payments().refunds.refund_wrong_network(payment.id, address=body.address, requested_by=actor())
    return json_response(RefundView.of(refund), 201, headers={"Location": f"/v1/refunds/{refund.id}"})
