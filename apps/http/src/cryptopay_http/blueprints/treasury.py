"""The treasury for admins: ``GET /v1/admin/treasury`` (the float and custody per the books), and the operators'
records ``POST /v1/admin/treasury/topups`` (KES moved into the float) and ``POST /v1/admin/treasury/conversions``
(crypto sold for KES, with its fills and fee, booking the realised FX gain or loss against customers' quotes).

Both records take an ``Idempotency-Key`` and are idempotent on their ``reference`` too (the same figures again are
the same entry; other figures are a 409). The status reads the books only: the chains' side of the inventory
(every deposit address) is ``cryptopay treasury status`` and the worker's ``treasury.prom`` gauges. Admins only.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Role
from cryptopay.core.money import KES, Money, asset_by_code
from cryptopay.core.text import TextKind
from cryptopay.core.treasury import Conversion, Fill, TopUp, TreasuryStatus
from flask import Blueprint, Response

from cryptopay_http.auth import current_principal, require
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import payments

__all__ = ["bp"]

bp = Blueprint("treasury", __name__)
_TAGS = ("admin",)
_REFERENCE = limits("the bank transfer's or trade's reference", pattern=r"^[\x21-\x7E]{1,100}$", hint="no spaces")


@attrs.frozen
class FloatView:
    """The M-Pesa float: the books, M-Pesa's latest word moved by the books since (null: unknown), and what new
    payouts may take after those in flight and the reserve."""

    books: Decimal
    known: Decimal | None
    source: str
    as_of: datetime | None
    in_flight: Decimal
    reserve: Decimal
    available: Decimal | None
    working_account: Decimal | None
    low: bool
    payouts_held: int


@attrs.frozen
class HoldingView:
    """Custody of one asset on one network, per the books, and its sweeps not yet confirmed."""

    network: str
    asset: str
    books: Decimal
    open_sweeps: int


@attrs.frozen
class TreasuryView:
    at: datetime
    mpesa_float: FloatView
    inventory: list[HoldingView]
    sweeps_open: int
    sweeps_failed: int

    @classmethod
    def of(cls, s: TreasuryStatus) -> TreasuryView:
        f = s.float
        view = FloatView(
            books=f.books.amount,
            known=f.known.amount if f.known is not None else None,
            source=f.source,
            as_of=f.as_of,
            in_flight=f.in_flight.amount,
            reserve=f.reserve.amount,
            available=f.available.amount if f.available is not None else None,
            working_account=f.working.amount if f.working is not None else None,
            low=f.low,
            payouts_held=f.held,
        )
        holdings = [HoldingView(h.network, h.asset.code, h.books.amount, h.open_sweeps) for h in s.inventory]
        return cls(s.at, view, holdings, s.sweeps_open, s.sweeps_failed)


@attrs.frozen
class TopUpRequest:
    """KES moved from the bank into the M-Pesa float."""

    amount: Decimal = attrs.field(metadata=limits("KES moved into the float"))
    reference: str = attrs.field(metadata=_REFERENCE)
    note: str = attrs.field(default="", metadata=limits("what it was", max_length=200, text=TextKind.PROSE))


@attrs.frozen
class TopUpView:
    reference: str
    amount: Decimal
    entry_id: str
    released: list[str]  # held payouts the float covers now

    @classmethod
    def of(cls, done: TopUp) -> TopUpView:
        return cls(done.reference, done.amount.amount, done.entry.id, [p.id for p in done.released])


@attrs.frozen
class FillBody:
    amount: Decimal = attrs.field(metadata=limits("crypto sold in this fill"))
    price: Decimal = attrs.field(metadata=limits("KES per unit"))


@attrs.frozen
class ConversionRequest:
    """Crypto sold for KES on an exchange or OTC desk."""

    reference: str = attrs.field(metadata=_REFERENCE)
    network: str = attrs.field(metadata=limits("where the crypto left our custody", max_length=32))
    fills: list[FillBody] = attrs.field(metadata=limits("the trade's fills", min_items=1, max_items=1000))
    venue: str = attrs.field(metadata=limits("the exchange or desk", min_length=1, max_length=100))
    fee: Decimal = attrs.field(default=Decimal(0), metadata=limits("the venue's fee, KES"))
    asset: str = attrs.field(
        default="USDT", metadata=limits("the crypto sold", choices=lambda: ("USDT", "BTC", "USDC"))
    )
    into: str = attrs.field(default="bank", metadata=limits("where the KES landed", choices=lambda: ("bank", "float")))


@attrs.frozen
class TreasuryConversionView:
    """A desk or exchange sale of treasury crypto for shillings, with its cost at customer quotes and the gain."""

    reference: str
    sold: Decimal
    asset: str
    proceeds: Decimal
    fee: Decimal
    cost: Decimal  # what the crypto sold cost at the quotes customers were given
    gain: Decimal  # realised FX gain (negative: a loss)
    entry_id: str

    @classmethod
    def of(cls, done: Conversion) -> TreasuryConversionView:
        return cls(
            done.reference,
            done.sold.amount,
            done.sold.asset.code,
            done.proceeds.amount,
            done.fee.amount,
            done.cost.amount,
            done.gain.amount,
            done.entry.id,
        )


def _actor() -> str:
    principal = current_principal()
    return f"{principal.kind.value}:{principal.id}"


@bp.get("/v1/admin/treasury")
@operation(
    "The float and custody per the books (admins)",
    response=TreasuryView,
    tags=_TAGS,
    errors=(403,),
    description=(
        "The M-Pesa float per the books and per M-Pesa's latest Account Balance answer moved by the books "
        "since (null: unknown), and custody of each asset on each network per the books with its sweeps "
        "not yet confirmed. Read from the books only (no chain is asked)."
    ),
)
@require(roles=[Role.ADMIN])
def treasury_status() -> Response:
    return json_response(TreasuryView.of(payments().treasury.status(read_chains=False)))


@bp.post("/v1/admin/treasury/topups")
@operation(
    "Record KES moved into the M-Pesa float (admins)",
    request=TopUpRequest,
    response=TopUpView,
    status=201,
    tags=_TAGS,
    errors=(403, 409),
    description=(
        "Records shillings moved from the bank into the M-Pesa float (by `reference`; recording the same "
        "reference again changes nothing). Payouts that waited for float may then go. Audited."
    ),
    problems=((InvalidInput, "the amount is not a positive KES amount"),),
)
@require(roles=[Role.ADMIN])
@idempotent
def record_topup() -> Response:
    body = read_body(TopUpRequest)
    done = payments().rebalancing.record_topup(
        reference=body.reference, amount=Money.of(body.amount, KES), note=body.note, actor=_actor()
    )
    return json_response(TopUpView.of(done), status=201)


@bp.post("/v1/admin/treasury/conversions")
@operation(
    "Record crypto sold for KES, with its realised FX result (admins)",
    request=ConversionRequest,
    response=TreasuryConversionView,
    status=201,
    tags=_TAGS,
    errors=(403, 409),
    description=(
        "Records a desk or exchange sale of treasury crypto for shillings (by `reference`; the same "
        "reference again changes nothing): its fills (amount and price), the KES fee, the venue and where "
        "the proceeds went (`bank` or `float`). The response shows the cost at customer quotes and the "
        "realised FX gain or loss. Audited."
    ),
    problems=(
        (
            InvalidInput,
            (
                "a fee that is negative or not less than the proceeds, proceeds not into the bank "
                "or the float, or no venue"
            ),
        ),
    ),
)
@require(roles=[Role.ADMIN])
@idempotent
def record_conversion() -> Response:
    body = read_body(ConversionRequest)
    asset = asset_by_code(body.asset)
    done = payments().rebalancing.record_conversion(
        reference=body.reference,
        network=body.network,
        fills=[Fill(Money.of(f.amount, asset), f.price) for f in body.fills],
        fee=Money.of(body.fee, KES),
        venue=body.venue,
        actor=_actor(),
        into=body.into,
    )
    return json_response(TreasuryConversionView.of(done), status=201)
