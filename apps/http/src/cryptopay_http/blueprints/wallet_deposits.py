"""Crypto deposits into a personal wallet: my deposit addresses per network and my deposits (``/v1/wallet/...``).

``GET /v1/wallet/deposit-addresses`` gives the user's address on every network the deployment runs (allocated on
the first ask, then always the same); ``.../deposit-addresses/{network}`` one of them. A deposit is credited once
it reaches the network's wallet requirement (``requirement``); the deposits listing shows each with its state,
and credited ones appear in ``/v1/wallet/history`` as ``deposit`` (a reorg's reversal as ``deposit_reversed``).
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import NotFound
from cryptopay.core.identity import Role
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.wallets.deposit import Deposit, DepositState, HoldReason
from cryptopay.core.wallets.deposits import WalletAddress
from flask import Blueprint, Response

from cryptopay_http.auth import current_principal, require
from cryptopay_http.blueprints.wallet import NO_WALLET
from cryptopay_http.convert import json_response
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("wallet_deposits", __name__)

_TAGS = ("wallet",)
_PERSONAL = [Role.PERSONAL]


@attrs.frozen
class DepositAddressView:
    """Where to send crypto to this wallet on one network: only ``assets`` are credited, each from its minimum."""

    network: str
    address: str
    assets: list[str]
    requirement: str = attrs.field(metadata={"description": "how long a deposit waits: N confirmations or finalized"})
    minimums: list[Money]
    uri: str = attrs.field(metadata={"description": "the address in the network's URI scheme (for QR codes)"})

    @classmethod
    def of(cls, a: WalletAddress) -> DepositAddressView:
        minimums = [Money.of(amount, asset_by_code(code)) for code, amount in a.minimums]
        return cls(a.network, a.address, list(a.assets), a.requirement, minimums, a.uri)


@attrs.frozen
class DepositView:
    """A transfer to one of my addresses: ``seen`` until confirmed, then ``credited`` (or ``held``, saying why);
    ``withdrawn`` when its block left the chain (any credit was reversed). ``credited`` is what my balance got: the
    amount itself, or for USDC the USDT it was converted into (at ``conversion_rate`` USDT per USDC, spread taken)."""

    id: str
    network: str
    amount: Money
    state: DepositState
    confirmations: int
    requirement: str
    tx_hash: str
    from_address: str | None
    hold_reason: HoldReason | None
    seen_at: datetime
    credited_at: datetime | None
    withdrawn_at: datetime | None
    credited: Money | None = None
    conversion_rate: str | None = None

    @classmethod
    def of(cls, d: Deposit) -> DepositView:
        return cls(
            d.id,
            d.network,
            d.amount,
            d.state,
            d.confirmations,
            d.requirement.describe(),
            d.tx_hash,
            d.from_address,
            d.shown_hold_reason,
            d.seen_at,
            d.credited_at,
            d.withdrawn_at,
            d.credited if d.state is DepositState.CREDITED else None,
            format(round(d.conversion.into.amount / d.amount.amount, 8), "f") if d.conversion else None,
        )


@bp.get("/v1/wallet/deposit-addresses")
@operation(
    "My deposit address on every network",
    response=list[DepositAddressView],
    tags=_TAGS,
    errors=(404,),
    description=(
        "The caller's own deposit address on each network this server watches, to receive USDT (or "
        "another held asset) from outside; a deposit is credited once it is as deep as the network asks. "
    )
    + "Allocated on the first ask, then always the same; never anybody else's. One per network: a small "
    "fixed set, answered whole as a JSON array (not a `{data, next_cursor}` page).",
    problems=(NO_WALLET,),
)
@require(roles=_PERSONAL)
def my_deposit_addresses() -> Response:
    found = runtime().services.wallet_deposits.addresses(current_principal().id)
    return json_response([DepositAddressView.of(a) for a in found])


@bp.get("/v1/wallet/deposit-addresses/<network>")
@operation(
    "My deposit address on one network",
    response=DepositAddressView,
    tags=_TAGS,
    errors=(404,),
    description="The caller's deposit address on one network (allocated on the first ask, then always the same).",
    problems=(
        (
            NotFound,
            (
                "the network is not one this server takes deposits on (the problem lists them), "
                "or the caller has no wallet"
            ),
        ),
    ),
)
@require(roles=_PERSONAL)
def my_deposit_address(network: str) -> Response:
    found = runtime().services.wallet_deposits.address(current_principal().id, network)
    return json_response(DepositAddressView.of(found))


@bp.get("/v1/wallet/deposits")
@operation(
    "My deposits, newest first",
    response=PageOf(DepositView),
    tags=_TAGS,
    description=(
        "The caller's deposits, newest first: network, amount, state (`seen`, `credited`, `held`, `withdrawn`), "
        "confirmations against what the network needs, transaction, and what was credited (a stablecoin "
        "converted at the rate shown)."
    ),
)
@require(roles=_PERSONAL)
@paginated("dep")
def list_deposits() -> Response:
    deposits, user_id = runtime().services.wallet_deposits, current_principal().id

    def fetch(after: str | None, limit: int) -> list[Deposit]:
        return deposits.deposits(user_id, before=after, limit=limit)

    return json_response(paginate(fetch, DepositView.of))


@bp.get("/v1/wallet/deposits/<deposit_id>")
@operation(
    "One of my deposits",
    response=DepositView,
    tags=_TAGS,
    errors=(404,),
    description="One of the caller's deposits; `hold_reason` says why a held one waits (`review`: ask support; a "
    "compliance hold of any kind reads so).",
    problems=((NotFound, "no such deposit of the caller's"),),
)
@require(roles=_PERSONAL)
def get_deposit(deposit_id: str) -> Response:
    found = runtime().services.wallet_deposits.deposit(deposit_id, user_id=current_principal().id)
    return json_response(DepositView.of(found))
