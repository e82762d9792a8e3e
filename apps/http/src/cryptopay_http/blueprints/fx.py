"""FX quotes: lock a price for a pair (``?pair=USDT/KES``) from the fresh rate sources; 503 when none is fresh.

Every call locks and persists a quote (conversions name the quote they used), so only merchant and admin logins
and API keys with ``fx:quote`` may lock one, each at most ``quote_rate_limit`` times per window. A merchant's quote
is claimed for that merchant's refunds: its id converts one refund on one of its invoices (``quote_id``), and no one
else's; an admin's is only a price.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.errors import InvalidInput, Unavailable
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.identity import RateLimited, Role
from cryptopay.core.ports.fx import UnsupportedPair
from cryptopay.core.pricing import Depegged
from flask import Blueprint, Response, request

from cryptopay_http.auth import current_principal, limit_caller, require
from cryptopay_http.blueprints.stores import NO_PAIRS, quoted_pairs
from cryptopay_http.convert import json_response
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import payments
from cryptopay_http.query import enum_param, query
from cryptopay_http.runtime import runtime

__all__ = ["FxQuoteView", "bp"]

bp = Blueprint("fx", __name__)


@attrs.frozen
class FxQuoteView:
    """A locked quote: the platform buys one ``base`` at ``bid`` and sells at ``ask`` until ``expires_at``."""

    id: str
    pair: str
    bid: Decimal
    ask: Decimal
    as_of: datetime
    expires_at: datetime

    @classmethod
    def of(cls, quote: Quote) -> FxQuoteView:
        return cls(quote.id, str(quote.pair), quote.bid, quote.ask, quote.as_of, quote.expires_at)


def _pair() -> Pair:
    text = request.args.get("pair", "")
    try:
        return Pair.parse(text)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="pair") from None


@bp.get("/v1/fx/quote")
@operation(
    "Lock an FX quote for a pair (?pair=USDT/KES)",
    response=FxQuoteView,
    tags=("fx",),
    errors=(422, 503),
    description=(
        "Locks the current rate of a pair (`?pair=USDT/KES`, one of the pairs this server prices): `bid` "
        "(what the platform pays for one base unit) and `ask` (what it charges), until `expires_at`. A "
        "merchant's quote is kept as its own and may be used once to convert a refund's KES amount "
        "(`quote_id` on POST /v1/invoices/{invoice_id}/refunds). Not cached (`no-store`); rate limited "
        "per caller."
    ),
    problems=(
        (UnsupportedPair, "no configured rate source quotes the pair"),
        (Depegged, "the stablecoin trades too far from its reference currency to price it safely"),
        (Unavailable, "the rate sources failed or disagree, or no FX rates are configured"),
        (RateLimited, "more quotes than the caller's quote limit (Retry-After says when)"),
    ),
)
@require(scope="fx:quote", roles=(Role.MERCHANT, Role.ADMIN))
@query(enum_param("pair", quoted_pairs, "a pair such as USDT/KES", required=True, when_empty=NO_PAIRS))
def fx_quote() -> Response:
    limit_caller(runtime().settings.quote_rate_limit)
    merchant_id = current_principal().merchant_id
    if merchant_id is None:
        quote = payments().pricer.quote(_pair())
    else:
        quote = payments().refunds.lock_quote(merchant_id, _pair())
    return json_response(FxQuoteView.of(quote), headers={"Cache-Control": "no-store"})
