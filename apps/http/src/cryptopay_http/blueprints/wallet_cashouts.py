"""Cashing out the wallet's shillings (``POST /v1/wallet/cashouts``): whole shillings of the KES balance paid by M-Pesa
B2C to the wallet's own verified number, e.g. what a sale whose payout failed left in the wallet.

It is a sale of no USDT (``Sells.cash_out``): the same payout machinery, M-Pesa charge (out of the amount), limits
(the KYC ``sell`` limits, M-Pesa's KES 10-250,000 a payment and KES 500,000 a day to a number), float check,
monitoring and audit; an ``Idempotency-Key`` makes a retry replay the first answer. It is followed at
``GET /v1/wallet/sells/{id}`` (``usdt`` zero) like any sale, and operators see it with the payouts.
"""

from __future__ import annotations

from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput, Refused
from cryptopay.core.identity import Role
from cryptopay.core.payments.link_amounts import AmountBelowMinimum
from cryptopay.core.wallets.sells import AmountNotPayable
from flask import Blueprint, Response

from cryptopay_http.amounts import CURRENCY, AmountRule
from cryptopay_http.auth import current_principal, limit_payouts, rate_limits, require
from cryptopay_http.blueprints.wallet import MOVEMENT_PROBLEMS, NO_WALLET, NOT_MPESA, PAYOUTS_PACED, SellView
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import operation
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("wallet_cashouts", __name__)


@attrs.frozen
class CashOutRequest:
    amount: Any = attrs.field(
        default=None,
        kw_only=True,
        metadata=limits(
            "whole shillings of my KES balance (M-Pesa's charge comes out of them; KES 10 or more; currency KES)"
        ),
    )
    currency: str | None = attrs.field(default=None, kw_only=True, metadata=limits(CURRENCY))
    kes: str | None = attrs.field(
        default=None, kw_only=True, metadata=limits("deprecated: whole shillings: send amount and currency")
    )


CASHOUT_AMOUNT = AmountRule(("KES",), places=0, positive=True, integer_digits=9, legacy_fields=(("kes", "KES"),))
CASHOUT_AMOUNT.document(CashOutRequest)


@bp.post("/v1/wallet/cashouts")
@operation(
    "Pay whole shillings of my KES balance by M-Pesa to my own number",
    request=CashOutRequest,
    response=SellView,
    status=201,
    tags=("wallet",),
    errors=(404, 409, 422, 503),
    description=(
        "Pays whole shillings of the caller's KES balance (what a failed sale or a transfer left there) "
        "by M-Pesa B2C to the caller's own verified number; M-Pesa's charge comes out of them (KES 10 or "
        "more). It takes exactly the amount asked: one M-Pesa cannot pay whole with its charge (between two "
        "charge bands, e.g. KES 101-105: KES 100 goes free, KES 101 costs 5) is a 422 `amount_not_payable` "
        "naming the nearest amounts that can be cashed out (`payable_below`, `payable_above`), and nothing "
        "moves. Followed as a sale of no USDT: its URL (under /v1/wallet/sells) is in `Location`. Only for "
        "a Safaricom number (422 `not_mpesa_number` otherwise). "
    )
    + rate_limits(wallet_payouts=True),
    problems=(
        *MOVEMENT_PROBLEMS,
        NO_WALLET,
        NOT_MPESA,
        (InvalidInput, "not a positive whole number of shillings"),
        (AmountBelowMinimum, "below M-Pesa's KES 10 a payment (`minimum`: 10); the shillings stay in the wallet"),
        (AmountNotPayable, "M-Pesa cannot pay exactly this amount with its charge: the nearest that can be"),
        (Refused, "M-Pesa cannot pay it out right now (float short)"),
        PAYOUTS_PACED,
    ),
)
@require(roles=[Role.PERSONAL])
@idempotent
def cash_out() -> Response:
    limit_payouts()  # each is a B2C payout from the shortcode: one count with sales and bills (review7 F12)
    body = read_body(CashOutRequest)
    sale = runtime().services.wallet_sells.cash_out(current_principal().id, CASHOUT_AMOUNT.money(body))
    return json_response(SellView.of(sale), 201, headers={"Location": f"/v1/wallet/sells/{sale.id}"})
