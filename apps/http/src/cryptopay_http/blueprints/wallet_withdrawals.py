"""Withdrawing crypto from a personal wallet (``/v1/wallet/withdrawals...``): USDT or BTC to an outside address.

Wallets hold one USDT balance whatever network or stablecoin it arrived as (USDC deposits are credited as USDT), so
USDT is withdrawn on any configured network and there is no USDC withdrawal.

``POST /v1/wallet/withdrawal-quotes`` checks the address for its network and shows our fee, the total taken from the
wallet, the network fee estimate (ours to pay) and its value in the asset with our margin (the fee is the larger of
the network's schedule and that value), the cool-off of a first-time address and whether the Travel Rule asks for the
self-hosted wallet attestation; it writes nothing. ``POST /v1/wallet/withdrawals`` withdraws: it needs a fresh
step-up (``X-Step-Up-Token``: money leaves the platform) and an ``Idempotency-Key`` (a retry replays the first answer,
so a lost response never withdraws twice); ``max_fee``, the fee the quote showed, is refused with 409 ``fee_changed``
when the fee is higher now. A withdrawal whose network fee rose above what its fee covers before it was sent is
``failed`` with ``failure_code`` ``fee_changed`` (the amount and fee back in the wallet: ask a new quote).
An address the platform controls (a hot wallet, or a wallet's, an invoice's or a remittance order's deposit
address) is refused by the quote and the withdrawal with 422 ``internal_address`` (pay a person here by phone or
username); one that became ours during a cool-off is ``failed`` with ``failure_code`` ``internal_address``.
While screening is required and no sanctions list is loaded, a withdrawal stays ``requested`` with ``held``
``screening_unavailable`` (its coins held, nothing sent unscreened) and is sent once a list is imported.
``GET /v1/wallet/withdrawals[/{id}]`` lists them newest first.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from cryptopay.core.compliance.travel_rule import IncompleteTravelRuleData
from cryptopay.core.errors import CryptopayError, InvalidAmount, InvalidInput, NotFound, Refused
from cryptopay.core.identity import Role
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.wallets.model import FeeChanged
from cryptopay.core.wallets.withdrawal_model import WITHDRAWABLE, Withdrawal, WithdrawalQuote, WithdrawalState
from flask import Blueprint, Response

from cryptopay_http.amounts import CURRENCY, AmountRule
from cryptopay_http.auth import current_principal, require, step_up
from cryptopay_http.blueprints.wallet import MOVEMENT_PROBLEMS, NO_WALLET
from cryptopay_http.convert import check_places, json_response, limits, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("wallet_withdrawals", __name__)

_TAGS = ("wallet",)
_PERSONAL = [Role.PERSONAL]
_AMOUNT = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,8})?$"
_NETWORK = r"^(ethereum|polygon|bsc|tron|bitcoin)$"
INTERNAL = (
    "the address is one cryptopay controls (a hot wallet, or a wallet's, an invoice's or a remittance order's "
    "deposit address, on any network sharing the key): send to the person by phone or username instead"
)
# What quoting and creating a withdrawal both refuse about its destination and amount.
_DESTINATION_PROBLEMS: tuple[tuple[type[CryptopayError], str], ...] = (
    (InvalidInput, "not a valid address on the network, or an asset that cannot be withdrawn on that network here"),
    (InvalidAmount, "not positive, or below the network's minimum"),
    (Refused, "withdrawals on the network are not configured (no hot wallet)"),
    (InternalAddress, INTERNAL),
)


@attrs.frozen
class WithdrawalAsk:
    """What to withdraw where: ``amount`` of ``currency`` arrives at ``address`` on ``network``."""

    network: str = attrs.field(metadata=limits("ethereum, polygon, bsc, tron or bitcoin", pattern=_NETWORK))
    address: str = attrs.field(
        metadata=limits("the destination address on that network", min_length=26, max_length=128)
    )
    amount: Any = attrs.field(
        default=None,
        kw_only=True,
        metadata=limits("the amount that arrives (our fee comes on top), in currency USDT or BTC"),
    )
    currency: str | None = attrs.field(default=None, kw_only=True, metadata=limits(CURRENCY))
    asset: str | None = attrs.field(
        default=None, kw_only=True, metadata=limits("deprecated: USDT or BTC: send currency")
    )


# Deprecated: ``asset`` naming the amount's currency.
WITHDRAWAL_AMOUNT = AmountRule(tuple(a.code for a in WITHDRAWABLE), integer_digits=12, legacy_asset=True)
WITHDRAWAL_AMOUNT.document(WithdrawalAsk)


@attrs.frozen
class WithdrawalCreate(WithdrawalAsk):
    """A withdrawal; ``self_hosted``: I own and control this address (asked at or above the Travel Rule threshold)."""

    self_hosted: bool = False
    max_fee: str | None = attrs.field(
        default=None,
        metadata=limits("the fee the quote showed, in the currency: 409 fee_changed if higher now", pattern=_AMOUNT),
    )


WITHDRAWAL_AMOUNT.document(WithdrawalCreate)


@attrs.frozen
class WithdrawalQuoteView:
    """What a withdrawal would take and cost; ``send_after``: when it would be sent (a first-time address waits)."""

    network: str
    address: str
    amount: Money
    fee: Money
    total: Money
    network_fee: Money | None = attrs.field(
        metadata={"description": "the network's fee estimate, paid by us, in its coin (null: it cannot say now)"}
    )
    first_time_address: bool
    send_after: datetime
    travel_rule: bool = attrs.field(metadata={"description": "the self-hosted wallet attestation is needed"})
    usd_equivalent: Money | None
    schedule_fee: Money | None = attrs.field(metadata={"description": "our fee for the asset on this network"})
    network_fee_value: Money | None = attrs.field(
        metadata={"description": "the network fee estimate with our margin, in the asset: the fee is never below it"}
    )

    @classmethod
    def of(cls, q: WithdrawalQuote) -> WithdrawalQuoteView:
        return cls(
            q.network,
            q.address,
            q.amount,
            q.fee,
            q.total,
            q.network_fee,
            q.first_time_address,
            q.send_after,
            q.travel_rule,
            q.usd_equivalent,
            q.schedule_fee,
            q.network_fee_value,
        )


@attrs.frozen
class WithdrawalView:
    """A withdrawal: ``requested`` (held; sent after ``send_after``), ``sent``, ``confirmed`` or ``failed`` (the
    amount and fee are back in the wallet)."""

    id: str
    state: WithdrawalState
    network: str
    address: str
    amount: Money
    fee: Money
    send_after: datetime
    first_time_address: bool
    tx_hash: str | None
    failure: str | None
    failure_code: str | None = attrs.field(
        metadata={
            "description": (
                "fee_changed: the network's fee rose above what the fee covers (ask a new quote); internal_address: "
                "the address became one of cryptopay's before it was sent (send by phone or username)"
            )
        }
    )
    created_at: datetime
    updated_at: datetime | None
    held: str | None = attrs.field(
        metadata={
            "description": (
                "why a requested withdrawal waits past send_after: screening_unavailable (no sanctions list is loaded "
                "to screen the address against); it is sent by itself once one is"
            )
        }
    )

    @classmethod
    def of(cls, w: Withdrawal) -> WithdrawalView:
        return cls(
            w.id,
            w.state,
            w.network,
            w.address,
            w.amount,
            w.fee,
            w.send_after,
            w.first_time_address,
            w.tx_hash,
            w.outward_failure,
            w.failure_code,
            w.created_at,
            w.updated_at,
            w.held,
        )


def _max_fee(asset: str, amount: str) -> Money:
    """``max_fee``, in the amount's currency."""
    found = asset_by_code(asset)
    value = Decimal(amount)
    try:
        check_places(value, found.decimals)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="max_fee") from None
    return Money.of(value, found)


@bp.post("/v1/wallet/withdrawal-quotes")
@operation(
    "What withdrawing crypto to an address would take and cost",
    request=WithdrawalAsk,
    response=WithdrawalQuoteView,
    tags=_TAGS,
    errors=(404, 422, 503),
    description=(
        "What withdrawing an amount of crypto to an address on a network would take: the network fee (on "
        "top, in the same asset), whether the address is new to the caller (a first-time address waits "
        "for a cool-off before it is sent) and whether the Travel Rule asks the caller to confirm the "
        "address is their own. The address is checked; nothing is written or held."
    ),
    problems=(*_DESTINATION_PROBLEMS, NO_WALLET),
)
@require(roles=_PERSONAL)
def quote_withdrawal() -> Response:
    body = read_body(WithdrawalAsk)
    quote = runtime().services.withdrawals.quote(
        current_principal().id, body.network, body.address, WITHDRAWAL_AMOUNT.money(body)
    )
    return json_response(WithdrawalQuoteView.of(quote))


@bp.post("/v1/wallet/withdrawals")
@operation(
    "Withdraw crypto to an outside address; a first-time address waits for its cool-off",
    request=WithdrawalCreate,
    response=WithdrawalView,
    status=201,
    tags=_TAGS,
    errors=(404, 409, 422, 503),
    description=(
        "Withdraws crypto from the caller's balance to an outside address: the amount and the network fee "
        "are held at once and the transaction is sent by the hot wallet (a first-time address after its "
        "cool-off, `send_after`). Send `max_fee` (the fee the quote showed) to be refused rather than pay "
        "more. At or above the Travel Rule threshold, `self_hosted: true` confirms the address is the "
        "caller's own wallet. A sanctioned address is blocked and audited. The withdrawal's URL is in "
        "`Location`."
    ),
    problems=(
        *MOVEMENT_PROBLEMS,
        NO_WALLET,
        *_DESTINATION_PROBLEMS,
        (FeeChanged, "the network fee rose above `max_fee`: ask for a new quote"),
        (IncompleteTravelRuleData, "the amount needs `self_hosted` confirmed (the Travel Rule)"),
    ),
)
@require(roles=_PERSONAL)
@step_up
@idempotent
def create_withdrawal() -> Response:
    body = read_body(WithdrawalCreate)
    amount = WITHDRAWAL_AMOUNT.money(body)
    withdrawal = runtime().services.withdrawals.request(
        current_principal().id,
        body.network,
        body.address,
        amount,
        self_hosted=body.self_hosted,
        max_fee=_max_fee(amount.asset.code, body.max_fee) if body.max_fee is not None else None,
    )
    location = f"/v1/wallet/withdrawals/{withdrawal.id}"
    return json_response(WithdrawalView.of(withdrawal), 201, headers={"Location": location})


@bp.get("/v1/wallet/withdrawals")
@operation(
    "My withdrawals, newest first",
    response=PageOf(WithdrawalView),
    tags=_TAGS,
    description=(
        "The caller's withdrawals, newest first: network, address, amount, fee, state "
        "(`requested`: held, waiting for its cool-off and the send; `sent`, `confirmed`, `failed`), "
        "transaction hash and failure."
    ),
)
@require(roles=_PERSONAL)
@paginated("wdr")
def list_withdrawals() -> Response:
    withdrawals, user_id = runtime().services.withdrawals, current_principal().id

    def fetch(after: str | None, limit: int) -> list[Withdrawal]:
        return withdrawals.for_user(user_id, after=after, limit=limit)

    return json_response(paginate(fetch, WithdrawalView.of))


@bp.get("/v1/wallet/withdrawals/<withdrawal_id>")
@operation(
    "One of my withdrawals",
    response=WithdrawalView,
    tags=_TAGS,
    errors=(404,),
    description="One of the caller's withdrawals; `send_after` says when a first-time address's cool-off ends.",
    problems=((NotFound, "no such withdrawal of the caller's"),),
)
@require(roles=_PERSONAL)
def get_withdrawal(withdrawal_id: str) -> Response:
    found = runtime().services.withdrawals.get(current_principal().id, withdrawal_id)
    return json_response(WithdrawalView.of(found))
