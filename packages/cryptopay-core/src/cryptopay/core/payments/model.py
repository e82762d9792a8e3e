"""Merchant-payment records: deposit addresses, store settings, ledger credits of payments, and refunds.

Settlements and payouts have their own packages (``cryptopay.core.settlement``, ``cryptopay.core.payouts``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.invoices import DEFAULT_INVOICE_WINDOW, DEFAULT_MONITORING_WINDOW, TransferKey
from cryptopay.core.money import KES, Asset, Money, to_decimal
from cryptopay.core.payments.charges import PayoutCharging, charge_schedule
from cryptopay.core.payments.speed import SpeedTier, check_speed_policy, speed_for
from cryptopay.core.rails import NETWORKS, AddressFormat, Rail
from cryptopay.core.settlement.policy import DEFAULT_CUTOFF
from cryptopay.core.wallets.usernames import payer_text_impersonates

__all__ = [
    "MAX_TOLERANCE_PERCENT",
    "AboveStoreMaximum",
    "BelowStoreMinimum",
    "DepositAddress",
    "HoldDecision",
    "ImpersonatingText",
    "LinkReservation",
    "PaymentCredit",
    "PaymentLink",
    "PaymentLinkBusy",
    "PaymentLinkClosed",
    "PaymentLinkTerms",
    "Refund",
    "RefundState",
    "StoreSettings",
    "address_family",
    "address_key",
    "check_payer_text",
    "check_tolerance",
    "index_families",
    "no_merchant_fee",
]


def address_key(network: str, address: str) -> str:
    """The form an address is stored and looked up in: EVM addresses lower-cased (checksums differ only in case),
    Bitcoin bech32 ones too (valid in one case or the other, and the same address either way); Tron's base58 and
    Bitcoin's base58 are case-sensitive and kept as written.

    >>> address_key("ethereum", "0xAbC"), address_key("tron", "TXyZ"), address_key("bitcoin", "BC1QXY")
    ('0xabc', 'TXyZ', 'bc1qxy')
    >>> address_key("bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
    '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'
    """
    known, text = NETWORKS.get(network), address.strip()
    if known is None:
        return text
    if known.is_evm or (known.address_format is AddressFormat.BITCOIN and text.lower().startswith(_BECH32_HRPS)):
        return text.lower()
    return text


_BECH32_HRPS = ("bc1", "tb1", "bcrt1")  # base58 Bitcoin addresses start with 1, 3, m, n or 2: never one of these


def address_family(network: str) -> tuple[str, ...]:
    """The networks on which an address of ``network`` is the same key's: every EVM network for an EVM one (one
    xpub, one hot-wallet key, whichever EVM chain the coins are sent on), else the network alone.

    >>> address_family("polygon"), address_family("tron")
    (('bsc', 'ethereum', 'polygon'), ('tron',))
    """
    known = NETWORKS.get(network)
    if known is not None and known.is_evm:
        return tuple(sorted(name for name, n in NETWORKS.items() if n.is_evm))
    return (network,)


def index_families(networks: Iterable[str]) -> dict[tuple[str, ...], list[str]]:
    """``networks`` grouped by the derivation-index counters one address on them takes at once, in lock order.

    The EVM networks derive from one xpub, so index ``i`` is the same address on each of them: an address on any
    EVM network takes its index on every EVM network's counter (all those known, not only the ones asked for), so
    an EVM address has exactly one owner across the networks and a payment sent on the wrong EVM network never
    reaches somebody else's address. Every other network has its own counter. The groups come sorted by their
    counters' names, and the counters within a group are sorted: allocating group after group takes the counter
    rows in one global name order, so concurrent allocations never deadlock. Wallets and invoices both use it.

    >>> index_families(["tron", "polygon", "bitcoin", "ethereum", "polygon"])  # doctest: +NORMALIZE_WHITESPACE
    {('bitcoin',): ['bitcoin'], ('bsc', 'ethereum', 'polygon'): ['polygon', 'ethereum'], ('tron',): ['tron']}
    """
    evm = tuple(sorted(name for name, network in NETWORKS.items() if network.is_evm))
    found: dict[tuple[str, ...], list[str]] = {}
    for name in dict.fromkeys(networks):
        found.setdefault(evm if name in evm else (name,), []).append(name)
    return dict(sorted(found.items()))


@attrs.frozen
class DepositAddress:
    """A fresh receive address derived at ``index`` on ``network``, owned forever by one invoice (``invoice_id``,
    ``merchant_id``) or by one wallet user (``user_id``, the invoice fields None): every address we derive, from
    the index counters of ``index_families`` (one index on every EVM network's counter at once), so an address is
    never two owners', on its network or on any other EVM network."""

    network: str
    address: str
    index: int
    invoice_id: str | None
    merchant_id: str | None
    created_at: datetime
    user_id: str | None = None

    @property
    def key(self) -> str:
        return address_key(self.network, self.address)


def _rails(value: Sequence[Rail]) -> tuple[Rail, ...]:
    return tuple(value)


def _fees(value: Sequence[FeeSchedule]) -> tuple[FeeSchedule, ...]:
    return tuple(value)


def _tiers(value: Sequence[SpeedTier]) -> tuple[SpeedTier, ...]:
    return tuple(value)


def no_merchant_fee(asset: Asset) -> FeeSchedule:
    """The 0 % ``none`` schedule: what a payment to a merchant that has no merchant fee (or no store) pays."""
    return FeeSchedule(
        product=FeeProduct.MERCHANT,
        asset=asset,
        version=1,
        name="none",
        effective_from=datetime(2000, 1, 1, tzinfo=UTC),
    )


def _merchant_fee_like(template: FeeSchedule, asset: Asset) -> FeeSchedule:
    """``template``'s percent as a merchant fee for ``asset``, named after it (its fixed part, caps and tiers are
    amounts of its own asset, so they are not carried over)."""
    return FeeSchedule(
        product=FeeProduct.MERCHANT,
        asset=asset,
        version=template.version,
        name=f"from-{template.asset.code}",
        effective_from=template.effective_from,
        percent=template.percent,
    )


class BelowStoreMinimum(InvalidInput):
    """An invoice worth less than its store's minimum invoice amount."""

    code = "below_store_minimum"


class AboveStoreMaximum(InvalidInput):
    """An invoice worth more than its store's maximum invoice amount."""

    code = "above_store_maximum"


# Data: the most underpayment a store may accept (BTCPay-style stores use 0 to 5 %). A wider tolerance let an invoice
# half paid be "settled" and the shop ship the order; an invoice settled under its price says so
# (``paid_under_tolerated``, with the shortfall).
MAX_TOLERANCE_PERCENT = Decimal(5)


def check_tolerance(percent: Decimal, *, field: str = "tolerance_percent") -> Decimal:
    """``percent`` if it is a tolerance a store may set (0 to ``MAX_TOLERANCE_PERCENT``), else ``InvalidInput``.

    >>> check_tolerance(Decimal("2.5"))
    Decimal('2.5')
    >>> check_tolerance(Decimal(6))
    Traceback (most recent call last):
    cryptopay.core.errors.InvalidInput: tolerance_percent must be a percent from 0 to 5, got 6
    """
    if not Decimal(0) <= percent <= MAX_TOLERANCE_PERCENT:
        raise InvalidInput(f"{field} must be a percent from 0 to {MAX_TOLERANCE_PERCENT}, got {percent}", field=field)
    return percent


def _tolerance(value: object) -> Decimal:
    """A store's tolerance; one stored above the cap (set before the cap existed) reads as the cap."""
    return min(to_decimal(value), MAX_TOLERANCE_PERCENT)


def _bound(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value)


@attrs.frozen(kw_only=True)
class StoreSettings:
    """A merchant's store: the rails it accepts, invoice window, underpayment tolerance, fees, settlement cut-off.

    ``fees`` holds the versioned schedules that apply to this store (merchant fee per asset, M-Pesa payout charge).
    ``min_invoice`` and ``max_invoice`` bound what one invoice may be worth, in shillings (the pricing currency).
    """

    merchant_id: str
    rails: tuple[Rail, ...] = attrs.field(converter=_rails)
    window: timedelta = DEFAULT_INVOICE_WINDOW
    monitoring: timedelta = DEFAULT_MONITORING_WINDOW
    tolerance_percent: Decimal = attrs.field(default=Decimal(0), converter=_tolerance)
    fees: tuple[FeeSchedule, ...] = attrs.field(default=(), converter=_fees)
    cutoff: time = DEFAULT_CUTOFF
    weekday: int = 4
    min_invoice: Decimal | None = attrs.field(default=None, converter=_bound)
    max_invoice: Decimal | None = attrs.field(default=None, converter=_bound)
    speed: tuple[SpeedTier, ...] = attrs.field(default=(), converter=_tiers)  # ``cryptopay.core.payments.speed``

    def __attrs_post_init__(self) -> None:
        if not self.rails:
            raise InvalidInput(f"store {self.merchant_id} accepts no rail")
        if self.window <= timedelta(0) or self.monitoring < timedelta(0):
            raise InvalidInput("the invoice window must be positive and the monitoring window not negative")
        FeeBook(self.fees)  # refuses a schedule version listed twice
        self._check_bounds()
        check_speed_policy(self.speed)

    def _check_bounds(self) -> None:
        for name, bound in (("min_invoice_amount", self.min_invoice), ("max_invoice_amount", self.max_invoice)):
            if bound is not None and (bound <= 0 or bound != bound.quantize(KES.quantum)):
                raise InvalidInput(f"must be a positive amount of KES with at most {KES.decimals} places", field=name)
        if self.min_invoice is not None and self.max_invoice is not None and self.min_invoice > self.max_invoice:
            raise InvalidInput("the minimum invoice amount exceeds the maximum", field="min_invoice_amount")

    def check_invoice_worth(self, worth: Money) -> None:
        """Refuse an invoice worth (in KES) less than the store's minimum or more than its maximum."""
        if self.min_invoice is not None and worth.amount < self.min_invoice:
            minimum = Money.of(self.min_invoice, KES)
            raise BelowStoreMinimum(f"{worth} is below the store minimum of {minimum}", field="amount")
        if self.max_invoice is not None and worth.amount > self.max_invoice:
            maximum = Money.of(self.max_invoice, KES)
            raise AboveStoreMaximum(f"{worth} is above the store maximum of {maximum}", field="amount")

    @property
    def bounded(self) -> bool:
        """Whether invoices of this store have a minimum or maximum worth."""
        return self.min_invoice is not None or self.max_invoice is not None

    def speed_for(self, rail: Rail, worth_kes: Decimal) -> Rail:
        """``rail`` with the confirmations or finality this store's speed policy asks at ``worth_kes``."""
        return speed_for(rail, self.speed, worth_kes)

    def rail(self, key: str) -> Rail:
        for rail in self.rails:
            if rail.key == key:
                return rail
        raise InvalidInput(f"this store does not accept {key}; it accepts {', '.join(r.key for r in self.rails)}")

    def merchant_fee(self, asset: Asset, at: datetime) -> FeeSchedule:
        """The merchant fee schedule for ``asset`` in force at ``at``.

        The fee is the merchant's, not one asset's (outside review R7): an asset without a version of its own in
        force (a rail added after the fee was set, by the merchant, who may not set the fee) pays the merchant's
        current fee (``current_merchant_fee``), as a schedule named after the version it copies
        (``merchant:USDC:from-USDT:v2``). Only a store with no merchant fee at all pays the 0 % ``none`` schedule.

        >>> from datetime import UTC
        >>> from cryptopay.core.money import USDC, USDT
        >>> from cryptopay.core.rails import rail_for
        >>> jan = datetime(2026, 1, 1, tzinfo=UTC)
        >>> fee = FeeSchedule(
        ...     product=FeeProduct.MERCHANT, asset=USDT, version=2, effective_from=jan, percent=Decimal("1.5")
        ... )
        >>> store = StoreSettings(merchant_id="m1", rails=(rail_for("ethereum", "USDT"),), fees=(fee,))
        >>> found = store.merchant_fee(USDC, jan)
        >>> found.id, found.percent
        ('merchant:USDC:from-USDT:v2', Decimal('1.5'))
        >>> attrs.evolve(store, fees=()).merchant_fee(USDC, jan).id
        'merchant:USDC:none:v1'
        """
        own = FeeBook(self.fees).find(FeeProduct.MERCHANT, asset, at=at)
        if own is not None:
            return own
        current = self.current_merchant_fee(at)
        if current is None:
            return no_merchant_fee(asset)
        return _merchant_fee_like(current, asset)

    def current_merchant_fee(self, at: datetime) -> FeeSchedule | None:
        """The merchant's fee at ``at``: of each asset's version in force then, the latest set (the highest percent
        when two were set together); None when the store has no merchant fee in force."""
        book = FeeBook(self.fees)
        assets = {s.asset for s in self.fees if s.product is FeeProduct.MERCHANT}
        found = [book.find(FeeProduct.MERCHANT, asset, at=at) for asset in assets]
        in_force = [s for s in found if s is not None]
        return max(in_force, key=lambda s: (s.effective_from, s.percent)) if in_force else None

    def with_merchant_fee(self, assets: Iterable[Asset], at: datetime, percent: Decimal | None = None) -> StoreSettings:
        """This store with a new merchant fee version effective ``at`` for each of ``assets``: at ``percent`` when
        given (an admin sets the merchant's fee: every asset it was ever charged in too, so a rail dropped and added
        again later is not charged an old fee), else for each asset with no version yet at the merchant's current
        fee (a rail of a new asset is priced as the others: outside review R7). Earlier versions stay."""
        fees = list(self.fees)
        current = self.current_merchant_fee(at)
        wanted = set(assets)
        if percent is not None:
            wanted |= {s.asset for s in fees if s.product is FeeProduct.MERCHANT}
        for asset in sorted(wanted, key=lambda a: a.code):
            versions = [s.version for s in fees if s.product is FeeProduct.MERCHANT and s.asset == asset]
            if percent is None and (versions or current is None):
                continue
            rate = percent if percent is not None else current.percent if current is not None else Decimal(0)
            version = max(versions, default=0) + 1
            fees.append(
                FeeSchedule(product=FeeProduct.MERCHANT, asset=asset, version=version, effective_from=at, percent=rate)
            )
        return attrs.evolve(self, fees=fees)

    def with_payout_charges(self, charging: PayoutCharging, at: datetime) -> StoreSettings:
        """This store with a new payout charge version (``payments.charges``) in force from ``at``."""
        versions = [s.version for s in self.fees if s.product is FeeProduct.MPESA_PAYOUT and s.name == "standard"]
        schedule = charge_schedule(charging, version=max(versions, default=0) + 1, effective_from=at)
        return attrs.evolve(self, fees=(*self.fees, schedule))

    def payout_charges(self, at: datetime) -> FeeSchedule | None:
        """The M-Pesa payout charge in force at ``at``, if the store pays one."""
        try:
            return FeeBook(self.fees).schedule_for(FeeProduct.MPESA_PAYOUT, KES, at=at)
        except NotFound:
            return None


@attrs.define(kw_only=True)
class PaymentCredit:
    """One ledger credit of one confirmed payment; reversed when the payment leaves the chain.

    ``generation`` counts earlier credits of the same transfer (a transfer reorganised away and mined again is
    credited again under a new ledger key). ``clawback_pending`` marks a reversal the merchant's balance could not
    cover yet (the money was already settled); it is retried before the merchant's next settlement. ``held``:
    compliance stopped it (a listed payer, ``crediting``): booked to ``payments_held``, not the merchant's balance,
    no fee taken; a re-mining of a held transfer is held again. ``alerts``: the blocking alerts raised on the payer.
    An officer's ``decision`` on a held credit (``payments.held``): ``released`` to the merchant (``release_entry_id``:
    Dr payments_held / Cr merchant, net, / Cr fee revenue, as the payment would have been booked; ``fee`` is then
    the fee taken), ``returned`` to the paying address (``refund_id``), or ``kept`` for the authorities. A release or
    a return is first a ``proposal`` of one officer (``proposed_by``, ``proposed_at``, ``proposal_note``), carried out
    only when a second officer approves it (four-eyes); the decision clears it.
    """

    id: str
    invoice_id: str
    merchant_id: str
    transfer: TransferKey
    generation: int
    received: Money
    fee: Money
    entry_id: str
    credited_at: datetime
    late: bool = False
    reversal_entry_id: str | None = None
    clawback_pending: bool = False
    held: bool = False
    alerts: tuple[str, ...] = ()
    decision: HoldDecision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    release_entry_id: str | None = None
    refund_id: str | None = None
    proposal: HoldDecision | None = None
    proposed_by: str | None = None
    proposed_at: datetime | None = None
    proposal_note: str | None = None

    @property
    def awaiting_decision(self) -> bool:
        """Held, standing, and no officer decided it yet (a return whose refund failed is decided again)."""
        return self.held and self.reversal_entry_id is None and self.decision is None


class HoldDecision(enum.Enum):
    """An officer's decision on a payment compliance held (``payments.held``)."""

    RELEASED = "released"  # credited to the merchant as the payment would have been (fee included)
    RETURNED = "returned"  # refunded to the address that paid it (the refund machinery, its screening included)
    KEPT = "kept"  # kept frozen in ``payments_held`` for the authorities (the case reported)


class RefundState(enum.Enum):
    REQUESTED = "requested"  # funds held, not yet broadcast
    SENT = "sent"  # broadcast, waiting for its confirmations
    CONFIRMED = "confirmed"  # final on chain; the hold is posted
    FAILED = "failed"  # definitively failed; the hold is voided


@attrs.define(kw_only=True)
class Refund:
    """Crypto sent back to a customer-given address, held from the merchant's balance while in flight."""

    id: str
    invoice_id: str
    merchant_id: str
    rail_key: str
    network: str
    address: str
    amount: Money
    hold_id: str
    requested_by: str
    created_at: datetime
    reason: str
    token_contract: str | None = None
    requested: Money | None = None  # the amount as the merchant asked it (in the invoice's currency), if converted
    quote_id: str | None = None  # the locked quote that converted ``requested`` into ``amount``
    rate: Decimal | None = None  # that quote's ask: what one unit of the refunded asset cost in ``requested``
    state: RefundState = RefundState.REQUESTED
    tx_hash: str | None = None
    updated_at: datetime | None = None
    failure: str | None = None  # the operators' own words (custody balances, node errors): never the merchant's
    # R25: a refund after settlement the merchant's balance did not cover is funded by the merchant. ``funded`` is the
    # part of ``amount`` sold to it on credit (in the refunded asset), ``owed`` the shillings it owes for that part
    # at the funding quote's ask (``flows.fund_refund``); both None when its balance covered the whole refund.
    funded: Money | None = None
    owed: Money | None = None
    # why a requested refund is not sent: ``screening_unavailable`` (screening is required and no sanctions list is
    # loaded, R12-3); the first run after a list is imported screens its address, then sends it or fails it
    held: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state in (RefundState.REQUESTED, RefundState.SENT)

    @property
    def outward_failure(self) -> str | None:
        """What the merchant is told of a failure (its API, dashboard and webhooks), never ``failure`` itself.

        >>> from cryptopay.core.money import Money
        >>> r = Refund(id="rfd_1", invoice_id="inv_1", merchant_id="mer_1", rail_key="usdt-tron", network="tron",
        ...     address="T...", amount=Money.of("1", "USDT"), hold_id="hld_1", requested_by="usr_1", reason="",
        ...     created_at=datetime(2026, 1, 1), state=RefundState.FAILED, failure="the hot wallet holds 3 USDT")
        >>> r.outward_failure
        'the refund could not be sent: its amount is refundable again'
        """
        if self.state is RefundState.FAILED:
            return "the refund could not be sent: its amount is refundable again"
        return "the network has not confirmed it yet: we are following it up" if self.failure else None


class ImpersonatingText(InvalidInput):
    """Text a payer reads as the merchant's (a payment link's description, an invoice's order reference) that speaks
    as a reserved brand (``usernames.payer_text_impersonates``, review6 F2): the payers would believe it."""

    code = "impersonating_text"


def check_payer_text(text: str, *, field: str, reference: bool = False) -> str:
    """``text`` unless it speaks as the platform, M-Pesa, a biller or another reserved brand (``ImpersonatingText``,
    422, naming ``field``). Every merchant-written text shown to payers passes here; ``reference=True`` for a shop's
    own reference, an order id (``payer_text_impersonates``).

    >>> check_payer_text("Airtel airtime top-up", field="description")
    'Airtel airtime top-up'
    """
    if (why := payer_text_impersonates(text, reference=reference)) is not None:
        raise ImpersonatingText(
            f"{field} speaks as the platform, M-Pesa, a biller or another reserved brand ({why}): use the "
            "business's own words",
            field=field,
        )
    return text


class PaymentLinkClosed(Conflict):
    """The link is deactivated, expired or used up: it makes no more invoices (a 409: the link's state decides)."""

    code = "payment_link_closed"


class PaymentLinkBusy(Conflict):
    """A capped link has as many unpaid checkouts open as it lets stand at once, in all or from this client: a 429
    with ``Retry-After`` (the longest a reservation stands); nothing was made."""

    code = "payment_link_busy"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, limit: str) -> None:
        super().__init__(message, retry_after=retry_after, limit=limit)
        self.retry_after = retry_after


@attrs.frozen(kw_only=True)
class LinkReservation:
    """What an unpaid invoice of a capped link holds of it: its use ``until`` then (then the use is free for others,
    unless it was paid meanwhile), counted against ``per_link`` open reservations of the link and ``per_client``
    of the same ``client`` (an opaque key of the visitor: its address; "" when unknown, counted per link only)."""

    until: datetime
    client: str
    per_link: int
    per_client: int

    def refusal(self, *, of_link: int, of_client: int, now: datetime) -> PaymentLinkBusy | None:
        """Why a claim is refused, with ``of_link`` reservations of the link and ``of_client`` of this client
        standing at ``now``; None when it may be taken.

        >>> held = LinkReservation(until=datetime(2026, 1, 5, 9, 5, tzinfo=UTC), client="c", per_link=3, per_client=2)
        >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        >>> held.refusal(of_link=2, of_client=1, now=now), held.refusal(of_link=3, of_client=0, now=now).details
        (None, {'retry_after': 300, 'limit': 'payment_link.open_checkouts'})
        """
        retry_after = max(1, int((self.until - now).total_seconds()))
        if of_link >= self.per_link:
            return PaymentLinkBusy(
                f"this link has {of_link} unpaid checkouts open, as many as it lets stand: retry in a few minutes",
                retry_after=retry_after,
                limit="payment_link.open_checkouts",
            )
        if self.client and of_client >= self.per_client:
            return PaymentLinkBusy(
                f"you have {of_client} unpaid checkouts of this link open: pay one, or retry in a few minutes",
                retry_after=retry_after,
                limit="payment_link.open_checkouts_per_client",
            )
        return None


class PaymentLinkTerms(Conflict):
    """What the customer sent does not fit the link's terms (its fixed price, its currency's places, its rails).

    A 409 rather than a 422: the request is well-formed; the link it names decides (a page re-reads the link)."""

    code = "payment_link_terms"


class PaymentLinkCurrency(InvalidInput):
    """The customer named a currency other than the link's (a 422 on ``currency``: a link is paid in its own)."""

    code = "payment_link_currency"


def _rail_keys(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.define(kw_only=True)
class PaymentLink:
    """A merchant's reusable request to be paid: a fixed ``amount``, or one the customer enters in ``currency``."""

    id: str
    public_id: str
    merchant_id: str
    currency: Asset
    description: str
    created_at: datetime
    created_by: str
    amount: Money | None = None  # None: the customer enters the amount
    rails: tuple[str, ...] | None = attrs.field(default=None, converter=_rail_keys)  # None: every rail of the store
    expires_at: datetime | None = None
    max_uses: int | None = None
    uses: int = 0
    active: bool = True
    deactivated_at: datetime | None = None

    def closed_reason(self, now: datetime) -> str | None:
        """Why the link makes no more invoices at ``now``, or None while it is open."""
        if not self.active:
            return "it was deactivated"
        if self.expires_at is not None and now >= self.expires_at:
            return f"it expired at {self.expires_at.isoformat()}"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return f"it has been used {self.uses} times, its limit"
        return None

    def check_open(self, now: datetime) -> None:
        reason = self.closed_reason(now)
        if reason is not None:
            raise PaymentLinkClosed(f"payment link {self.public_id} is closed: {reason}")

    def price_for(self, entered: Decimal | None) -> Money:
        """The invoice's price: the link's fixed amount, or what the customer entered (positive, in ``currency``)."""
        if self.amount is not None:
            if entered is not None and entered != self.amount.amount:
                raise PaymentLinkTerms(f"this link asks a fixed {self.amount}; leave the amount out", field="amount")
            return self.amount
        if entered is None:
            raise PaymentLinkTerms(f"enter the amount to pay in {self.currency.code}", field="amount")
        exponent = entered.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) else 0
        if entered <= 0 or places > self.currency.decimals:
            raise PaymentLinkTerms(
                f"the amount is a positive amount of {self.currency.code} with at most {self.currency.decimals} places",
                field="amount",
            )
        return Money.of(entered, self.currency)

    def rails_for(self, rail: str | None) -> list[str] | None:
        """The invoice's rails: the customer's choice (one of the link's), else the link's (or the store's)."""
        if rail is None:
            return list(self.rails) if self.rails is not None else None
        wanted = rail.strip().lower()
        if self.rails is not None and wanted not in self.rails:
            raise PaymentLinkTerms(f"this link is paid on {', '.join(self.rails)}, not {rail}", field="rail")
        return [wanted]
