"""Store settings: the rails a merchant accepts, its invoice window and underpayment tolerance, its fee, and its
speed policy (how long each rail waits, per invoice size: ``cryptopay.core.payments.speed``).

The merchant (or an admin) sets rails, window and tolerance; only an admin sets the merchant fee, through its own
step-up operation (``PUT .../store/merchant-fee``, reviewer9 R9-9), as a new fee schedule version effective now for
each asset the store accepts or was charged in (earlier versions stay, so past payments keep the fee they were
charged under); the merchant's owner is emailed the new fee. The fee is the merchant's, whatever asset it is paid
in: a rail of an asset with no version yet gets one at the merchant's current fee (outside review R7). Every change
is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound, Unavailable
from cryptopay.core.fees import FeeProduct
from cryptopay.core.identity import Role
from cryptopay.core.identity.model import TeamRole
from cryptopay.core.money import KES
from cryptopay.core.payments import StoreSettings
from cryptopay.core.payments.charges import PayoutCharging, charging_of, charging_text, set_payout_charges
from cryptopay.core.payments.invoicing import UnpricedRail, refuse_unpriced_rails
from cryptopay.core.payments.merchant_fee import fee_notice, set_merchant_fee
from cryptopay.core.payments.model import MAX_TOLERANCE_PERCENT, check_tolerance
from cryptopay.core.payments.speed import MAX_CONFIRMATIONS, SpeedTier, describe
from cryptopay.core.rails import NETWORKS, Finality, Rail, rail_for
from flask import Blueprint, Response

from cryptopay_http.auth import (
    audited_step_up,
    check_step_up_audited,
    current_principal,
    documents_step_up_if,
    not_found,
    require,
)
from cryptopay_http.blueprints.merchants import load_merchant
from cryptopay_http.convert import amount_pattern, json_response, limits, read_body
from cryptopay_http.openapi import operation, register_schema
from cryptopay_http.payments_edge import actor, audit, payments, rail_catalogue, resolve_rail

__all__ = [
    "NO_PAIRS",
    "NO_RAILS",
    "StoreView",
    "bp",
    "change_merchant_fee",
    "offered_rail_keys",
    "offered_rails",
    "quoted_pairs",
]

bp = Blueprint("stores", __name__)
_STAFF = (Role.MERCHANT, Role.ADMIN)
_TAGS = ("stores",)
_MAX_WINDOW_MINUTES = 24 * 60
_MAX_TIERS = 50


def offered_rails() -> dict[str, Rail]:
    """The rails this deployment offers by key: its own catalogue, else every token rail the core knows."""
    catalogue = rail_catalogue()
    if catalogue is not None:
        return dict(catalogue)
    tokens = [(n, t) for n in NETWORKS.values() if n.name != "mpesa" for t in (*n.tokens, n.native) if t is not None]
    return {rail.key: rail for rail in (rail_for(network, token.asset) for network, token in tokens)}


NO_RAILS = (
    "no rails configured on this server: set a chain (CRYPTOPAY_ETHEREUM_RPC_URL with CRYPTOPAY_EVM_XPUB, "
    "CRYPTOPAY_TRON_API_URL or CRYPTOPAY_ESPLORA_URL; README, Configuration), or run `cryptopay serve --dev` "
    "for the sandbox's"
)
NO_PAIRS = (
    "no rate source configured for any pair: pairs are the rails' assets in KES, and this server has no rails "
    "(set a chain and CRYPTOPAY_FX_SOURCES; README, Configuration), or run `cryptopay serve --dev` for the sandbox's"
)


def offered_rail_keys() -> list[str]:
    """The keys of ``offered_rails``, or none when this server has no payments."""
    try:
        return sorted(offered_rails())
    except Unavailable:  # no payments on this server: no rail to choose
        return []


def quoted_pairs() -> list[str]:
    """The pairs invoices are priced with: each offered rail's asset in shillings."""
    try:
        assets = {rail.asset.code for rail in offered_rails().values() if rail.asset != KES}
    except Unavailable:
        return []
    return sorted(f"{code}/KES" for code in assets)


_MAX_TOLERANCE = int(MAX_TOLERANCE_PERCENT)  # a whole percent from 1 to 9, so the pattern below can say it
_TOLERANCE = rf"^([0-{_MAX_TOLERANCE - 1}](\.[0-9]{{1,18}})?|{_MAX_TOLERANCE}(\.0{{1,18}})?)$"
_UP_TO_100 = r"^((0|[1-9][0-9]?)(\.[0-9]{1,18})?|100(\.0{1,18})?)$"


_BOUND = limits(
    "KES (the pricing currency): invoices worth less than the minimum or more than the maximum are refused (422)",
    pattern=amount_pattern(KES.decimals, positive=True),
)


@attrs.frozen
class SpeedTierBody:
    """Invoices worth up to ``up_to_kes`` (null: any amount) on ``rail`` are confirmed after ``confirmations``
    blocks, or once their block carries the network's ``finality`` signal (EVM: safe, finalized; Tron: finalized,
    a solidified block; Bitcoin: none). The risk of each setting is in the README (Speed policy)."""

    rail: str
    up_to_kes: Decimal | None = None
    confirmations: int | None = None
    finality: Finality | None = None

    def tier(self) -> SpeedTier:
        return SpeedTier(self.rail, self.up_to_kes, self.confirmations, self.finality)


def _speed_tier_schema(components: dict[str, Any]) -> dict[str, Any]:
    """One variant per offered rail: confirmations (1 to the maximum) or one of its network's finality signals."""
    bound = {"anyOf": [{"type": "string", "pattern": amount_pattern(KES.decimals, positive=True)}, {"type": "null"}]}
    depth = {"type": "integer", "minimum": 1, "maximum": MAX_CONFIRMATIONS}
    variants = []
    for key, rail in sorted(_offered_or_none().items()):
        common = {"rail": {"const": key}, "up_to_kes": bound}
        variants.append({"properties": {**common, "confirmations": depth}, "required": ["rail", "confirmations"]})
        if rail.network.finality:
            signals = {"type": "string", "enum": [f.value for f in rail.network.finality]}
            variants.append({"properties": {**common, "finality": signals}, "required": ["rail", "finality"]})
    schema: dict[str, Any] = {
        "type": "object",
        "description": SpeedTierBody.__doc__,
        "properties": {
            "rail": {"type": "string"},
            "up_to_kes": bound,
            "confirmations": depth,
            "finality": {"type": "string", "enum": [f.value for f in Finality]},
        },
        "required": ["rail"],
        "additionalProperties": False,
    }
    return {**schema, "oneOf": [{**v, "additionalProperties": False} for v in variants]} if variants else schema


def _offered_or_none() -> dict[str, Rail]:
    try:
        return offered_rails()
    except Unavailable:
        return {}


register_schema(SpeedTierBody, _speed_tier_schema)


@attrs.frozen
class StoreBody:
    """The store's settings (a PUT: the window, tolerance and bounds left out take their defaults; the speed policy
    and monitoring left out are kept). The merchant fee is not set here (``PUT .../store/merchant-fee``)."""

    rails: list[str] = attrs.field(
        metadata=limits(
            "rail keys the store accepts (GET /v1/rails)",
            min_items=1,
            max_items=20,
            choices=offered_rail_keys,
            when_empty=NO_RAILS,
        )
    )
    invoice_window_minutes: int = attrs.field(default=15, metadata=limits(minimum=1, maximum=_MAX_WINDOW_MINUTES))
    tolerance_percent: Decimal = attrs.field(
        default=Decimal(0),
        metadata=limits(f"underpayment accepted, a percent from 0 to {_MAX_TOLERANCE}", pattern=_TOLERANCE),
    )
    merchant_fee_percent: Decimal | None = attrs.field(
        default=None,
        metadata=limits(
            "not set here: an admin sets the fee with PUT /v1/merchants/{id}/store/merchant-fee (a step-up); "
            "a value here is refused (422)",
            pattern=_UP_TO_100,
        ),
    )
    min_invoice_amount: Decimal | None = attrs.field(default=None, metadata=_BOUND)
    max_invoice_amount: Decimal | None = attrs.field(default=None, metadata=_BOUND)
    speed_policy: list[SpeedTierBody] | None = attrs.field(
        default=None,
        metadata=limits(
            "per rail and invoice size, how long a payment waits (null or absent: unchanged; []: the deployment's "
            "depth for every rail); two tiers of one rail may not share a bound",
            max_items=_MAX_TIERS,
        ),
    )


@attrs.frozen
class RailView:
    """A rail this server offers: ``asset`` (``decimals`` places) on ``network``, credited after ``confirmations``."""

    key: str
    network: str
    asset: str
    decimals: int
    confirmations: int
    chain_id: int | None
    token_contract: str | None

    @classmethod
    def of(cls, rail: Rail) -> RailView:
        token = rail.token
        network = rail.network
        return cls(
            rail.key,
            network.name,
            rail.asset.code,
            rail.asset.decimals,
            rail.confirmations,
            network.chain_id,
            token.contract,
        )


@attrs.frozen
class RailList:
    data: list[RailView]


@attrs.frozen
class FeeView:
    """One merchant fee schedule version."""

    asset: str
    version: int
    percent: Decimal
    effective_from: datetime


@attrs.frozen
class ChargeBandView:
    """One band of a payout charge: a part of ``from_amount`` or more (up to the next band) is charged ``charge``."""

    from_amount: Decimal
    charge: Decimal
    percent: Decimal


@attrs.frozen
class PayoutChargesView:
    """Who bears M-Pesa's charge for the merchant's payouts, and the bands charged on top of each part (KES)."""

    charging: str = attrs.field(
        metadata={
            "description": "none: the platform bears M-Pesa's charge; mpesa_b2c: M-Pesa's B2C tariff is passed on, "
            "band by band; custom: a schedule set through the SDK"
        }
    )
    schedule_id: str | None
    effective_from: datetime | None
    bands: list[ChargeBandView]

    @classmethod
    def of(cls, store: StoreSettings, at: datetime) -> PayoutChargesView:
        schedule = store.payout_charges(at)
        if schedule is None:
            return cls(PayoutCharging.NONE.value, None, None, [])
        bands = [ChargeBandView(t.from_amount.amount, t.fixed.amount, t.percent) for t in schedule.tiers]
        if not bands and charging_of(schedule) is not PayoutCharging.NONE:
            fixed = schedule.fixed.amount if schedule.fixed else Decimal(0)
            bands = [ChargeBandView(Decimal(0), fixed, schedule.percent)]
        return cls(charging_text(schedule), schedule.id, schedule.effective_from, bands)


@attrs.frozen
class PayoutChargesBody:
    """The payout charge to set from now: ``none`` or ``mpesa_b2c``."""

    charging: PayoutCharging


@attrs.frozen
class SpeedTierView:
    """One tier of a store's speed policy."""

    rail: str
    up_to_kes: Decimal | None
    confirmations: int | None
    finality: Finality | None


@attrs.frozen
class StoreView:
    """A merchant's store settings."""

    merchant_id: str
    rails: list[str]
    invoice_window_minutes: int
    tolerance_percent: Decimal
    merchant_fees: list[FeeView]
    min_invoice_amount: Decimal | None = attrs.field(default=None, metadata={"description": "KES; null: no minimum"})
    max_invoice_amount: Decimal | None = attrs.field(default=None, metadata={"description": "KES; null: no maximum"})
    speed_policy: list[SpeedTierView] = attrs.field(
        factory=list, metadata={"description": "per rail, tiers by invoice worth; rails not named wait their default"}
    )
    payout_charges: PayoutChargesView | None = attrs.field(
        default=None, metadata={"description": "the payout charge in force, taken on top of each payout's part"}
    )

    @classmethod
    def of(cls, store: StoreSettings) -> StoreView:
        fees = [
            FeeView(s.asset.code, s.version, s.percent, s.effective_from)
            for s in store.fees
            if s.product is FeeProduct.MERCHANT
        ]
        minutes = int(store.window.total_seconds() // 60)
        rails = [r.key for r in store.rails]
        bounds = store.min_invoice, store.max_invoice
        speed = [SpeedTierView(t.rail, t.up_to_kes, t.confirmations, t.finality) for t in store.speed]
        charges = PayoutChargesView.of(store, payments().clock.now())
        return cls(store.merchant_id, rails, minutes, store.tolerance_percent, fees, *bounds, speed, charges)


def _check(body: StoreBody) -> list[Rail]:
    if not 1 <= body.invoice_window_minutes <= _MAX_WINDOW_MINUTES:
        raise InvalidInput(f"must be 1 to {_MAX_WINDOW_MINUTES} minutes", field="invoice_window_minutes")
    check_tolerance(body.tolerance_percent)
    if body.merchant_fee_percent is not None:  # reviewer9 R9-9: a fee change is its own step-up action
        raise InvalidInput(
            "the merchant fee is not set with the store's settings: an admin sets it with "
            "PUT /v1/merchants/{id}/store/merchant-fee (asks a step-up)",
            field="merchant_fee_percent",
        )
    if not body.rails:
        raise InvalidInput("a store accepts at least one rail", field="rails")
    rails = list({rail.key: rail for rail in (resolve_rail(key) for key in body.rails)}.values())
    _check_priced(rails)
    return rails


def _check_priced(rails: list[Rail]) -> None:
    """Refuse a rail nothing can price into shillings now, not at every invoice later (422 ``unpriced_rail``)."""
    refuse_unpriced_rails(rails, payments().pricer)


def _speed(body: StoreBody, existing: StoreSettings | None) -> tuple[SpeedTier, ...]:
    """The body's speed policy, or the stored one when the body leaves it out."""
    if body.speed_policy is None:
        return existing.speed if existing else ()
    return tuple(t.tier() for t in body.speed_policy)


def _store(merchant_id: str) -> StoreSettings | None:
    found: StoreSettings | None = payments().listings.store(merchant_id)
    return found


@bp.put("/v1/merchants/<merchant_id>/store")
@operation(
    "Set the merchant's store settings",
    request=StoreBody,
    example={"rails": ["usdt-ethereum", "usdt-tron"], "tolerance_percent": "0.5"},
    response=StoreView,
    tags=_TAGS,
    description=(
        "Sets how the merchant takes payments: the rails it accepts, the invoice window (minutes an "
        "invoice stays open), the underpayment tolerance (percent), optional minimum and maximum invoice "
        "worth (KES) and speed policy. A PUT replaces the settings: a window, tolerance or bound the body leaves "
        "out takes its default (15 minutes, 0 %, none); what it leaves out of the speed policy and monitoring is "
        "kept. The merchant fee is not set here: `merchant_fee_percent` is refused (422) with a pointer to "
        "`PUT /v1/merchants/{id}/store/merchant-fee`, which asks a step-up. A platform admin setting a merchant's "
        "store asks a step-up too (it changes the merchant's money terms). Audited."
    ),
    problems=(
        (
            InvalidInput,
            (
                "no rail, an unknown rail, a window out of range, a tolerance percent out of range, a "
                "minimum above the maximum, or a merchant_fee_percent (set with PUT .../store/merchant-fee)"
            ),
        ),
        (UnpricedRail, "no rate source prices an accepted rail's asset in KES now"),
    ),
)
@require(roles=_STAFF, tenant_arg="merchant_id", team=(TeamRole.OWNER, TeamRole.ADMIN))
@documents_step_up_if("when a platform admin (not the merchant's team) sets the store")
def put_store(merchant_id: str) -> Response:
    body = read_body(StoreBody)
    merchant = load_merchant(merchant_id)
    rails = _check(body)
    if current_principal().role is Role.ADMIN:  # staff changing a merchant's money terms: a step-up (R9-9)
        check_step_up_audited()
    with payments().uow() as uow:
        existing = uow.stores.get(merchant.id, lock=True)  # the whole document is put back (LASTREAD2 M-1)
        store = StoreSettings(
            merchant_id=merchant.id,
            rails=rails,
            window=timedelta(minutes=body.invoice_window_minutes),
            tolerance_percent=body.tolerance_percent,
            fees=existing.fees if existing else (),
            min_invoice=body.min_invoice_amount,
            max_invoice=body.max_invoice_amount,
            speed=_speed(body, existing),
        )
        # the fee is the merchant's: a rail of a new asset gets a version at its current fee (outside review R7)
        store = store.with_merchant_fee({r.asset for r in rails}, payments().clock.now())
        if existing:  # what this body does not set is kept
            store = attrs.evolve(
                store, monitoring=existing.monitoring, cutoff=existing.cutoff, weekday=existing.weekday
            )
        uow.stores.put(store)
        audit(
            uow,
            "store.put",
            f"merchant:{merchant.id}",
            rails=",".join(r.key for r in rails),
            window_minutes=body.invoice_window_minutes,
            tolerance=body.tolerance_percent,
            fee_versions_added=",".join(s.id for s in store.fees if s not in (existing.fees if existing else ()))
            or "none",
            min_invoice=body.min_invoice_amount if body.min_invoice_amount is not None else "none",
            max_invoice=body.max_invoice_amount if body.max_invoice_amount is not None else "none",
            speed_policy=describe(store.speed),
        )
    return json_response(StoreView.of(store))


def _admin_setting(
    setting: str, summary: str, body: type, example: dict[str, str], description: str, invalid: str
) -> Callable[[Callable[[str], Response]], Callable[..., Response]]:
    """``PUT /v1/merchants/<merchant_id>/store/<setting>``: a store setting only an admin changes, with a step-up
    (as the console's form asks a fresh code), answered with the store; ``invalid`` says what its 422 is for."""

    def decorate(view: Callable[[str], Response]) -> Callable[..., Response]:
        problems = ((InvalidInput, invalid), (NotFound, "the merchant has no store settings yet"))
        described = operation(
            summary,
            request=body,
            example=example,
            response=StoreView,
            tags=_TAGS,
            description=description,
            problems=problems,
        )
        routed: Callable[..., Response] = described(require(roles=[Role.ADMIN])(audited_step_up(view)))
        return bp.put(f"/v1/merchants/<merchant_id>/store/{setting}")(routed)

    return decorate


@_admin_setting(
    "payout-charges",
    "Set who bears M-Pesa's charge for the merchant's payouts",
    PayoutChargesBody,
    {"charging": "mpesa_b2c"},
    "An admin sets the merchant's payout charge from now (a new schedule version; earlier ones stay): `none` "
    "(the platform bears M-Pesa's charge) or `mpesa_b2c` (M-Pesa's B2C tariff passed on band by band: each "
    "payout part is charged what M-Pesa charges for it, on top, from the merchant's shillings; a settlement's "
    "dry run shows it before the settlement is made). Audited `store.payout_charges`. Asks a step-up, as the "
    "console's form asks a fresh code: it changes what every later payout of the merchant pays.",
    "a charging other than none or mpesa_b2c",
)
def put_payout_charges(merchant_id: str) -> Response:
    body = read_body(PayoutChargesBody)
    merchant = load_merchant(merchant_id)
    store = set_payout_charges(payments().uow, merchant.id, body.charging, actor=actor(), now=payments().clock.now())
    return json_response(StoreView.of(store))


@attrs.frozen
class MerchantFeeBody:
    """The merchant fee to set from now: a percent of each payment, 0 to 100."""

    percent: Decimal = attrs.field(metadata=limits("a percent from 0 to 100", pattern=_UP_TO_100))


def change_merchant_fee(merchant_id: str, percent: Decimal, *, by: str) -> StoreSettings:
    """Set the merchant's fee from now (``set_merchant_fee``: audited ``store.merchant_fee``) and tell its owner by
    email its new fee and from when; the mail's outcome is audited ``store.merchant_fee_notified`` (the change
    stands if the mail fails). The API's operation and the console's form both come here."""
    services = payments()
    merchant = load_merchant(merchant_id)
    now = services.clock.now()
    store, before = set_merchant_fee(services.uow, merchant.id, percent, actor=by, now=now)
    owner = services.users.get(merchant.owner_user_id)
    details: dict[str, str]
    if owner is None or owner.email is None:
        details = {"outcome": "skipped", "reason": "the owner has no email"}
    else:
        try:
            services.notifier.send(fee_notice(percent, before, now, to=owner.email))
            details = {"outcome": "sent"}
        except CryptopayError as error:
            details = {"outcome": "failed", "reason": error.message[:200]}
    with services.uow() as uow:  # next to the change's own record
        uow.audit.append(AuditEvent(by, "store.merchant_fee_notified", f"merchant:{merchant.id}", now, details))
    return store


@_admin_setting(
    "merchant-fee",
    "Set the merchant's fee",
    MerchantFeeBody,
    {"percent": "1.5"},
    "An admin sets the merchant fee (the percent of each payment the platform keeps) from now: a new fee "
    "version for every asset the store accepts or was charged in; earlier versions stay, so past payments keep "
    "theirs. Changes nothing else. Asks a step-up, as the console's form asks a fresh code: it changes what "
    "every later payment pays the merchant. Audited `store.merchant_fee` (before and after); the merchant's "
    "owner is emailed the new fee and from when (`store.merchant_fee_notified`).",
    "a percent out of 0 to 100",
)
def put_merchant_fee(merchant_id: str) -> Response:
    body = read_body(MerchantFeeBody)
    return json_response(StoreView.of(change_merchant_fee(merchant_id, body.percent, by=actor())))


@bp.get("/v1/merchants/<merchant_id>/store")
@operation(
    "Read the merchant's store settings",
    response=StoreView,
    tags=_TAGS,
    description=(
        "The merchant's store settings: rails, invoice window, tolerance, minimum and maximum invoice "
        "worth, speed policy and fee schedules."
    ),
    problems=((NotFound, "the merchant has no store settings yet"),),
)
@require(roles=_STAFF, api_keys=True, tenant_arg="merchant_id")
def get_store(merchant_id: str) -> Response:
    merchant = load_merchant(merchant_id)
    store = _store(merchant.id)
    if store is None:
        raise not_found("store of merchant", merchant.id)
    return json_response(StoreView.of(store))


@bp.get("/v1/rails")
@operation(
    "The rails this server offers (asset, network, decimals, confirmations)",
    response=RailList,
    tags=_TAGS,
    description=(
        "The rails this server offers (a rail is an asset on a network: `usdt-tron`), each with its "
        "decimals, the confirmations it waits for, and its chain id and token contract (EVM). A store "
        "can accept only these, and only those a rate source prices in KES."
    ),
)
@require(api_keys=True)
def list_rails() -> Response:
    return json_response(RailList([RailView.of(r) for _, r in sorted(offered_rails().items())]))
