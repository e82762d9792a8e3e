"""Whether a movement is allowed under the tier a party holds, and the Nairobi days and months limits count in.

Two layers, both data: the tier's own single/daily/monthly limits over every movement (``check_movement``), and,
for the personal wallet's products (buy, sell, P2P, withdraw, bills), a per-product table of the same three limits
per tier (``PRODUCT_LIMITS``; a zero limit means the tier may not use the product at all).
``check_wallet_movement`` applies both and refuses with the limit's name (``daily``, ``p2p.monthly``, ...) and what
remains of it. This is the one place limits are checked: a new rule belongs here, not in a use case.

Receiving (``INCOMING``: remittances into the wallet, and ``RECEIVE``: money from other people, claimed invitations
and crypto deposits) is a budget of its own, as a mobile-money account's limits are: what a party receives is
checked against the receiving product's rows only, and does not count against the tier's own limits, which bound
what the party moves (sends, sells, withdraws, pays, buys). A tier-1 user paid KES 150,000 in a day can still send
that day; a tier-0 wallet (a phone, no ID) receives small amounts only (its ``RECEIVE`` row).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta

import attrs
from cryptopay.core.errors import MOVEMENT_UNAVAILABLE, AssetMismatch, InvalidAmount, LimitExceeded, MovementUnavailable
from cryptopay.core.kyc.profile import KycProfile, KycStanding
from cryptopay.core.kyc.tiers import DEFAULT_KYC_POLICY, KycPolicy, KycTier, PartyKind
from cryptopay.core.money import KES, Money
from cryptopay.core.system import NAIROBI

__all__ = [
    "FROZEN",
    "INCOMING",
    "PRODUCT_LIMITS",
    "Decision",
    "Product",
    "ProductLimit",
    "ProductLimits",
    "Spending",
    "Standing",
    "check_movement",
    "check_payout",
    "check_wallet_movement",
    "day_bounds",
    "month_bounds",
    "product_limited",
]


# ``Decision.limit`` of a party compliance froze: internal (settlement, deposits and remittances hold on it); the
# party itself is only ever told ``MOVEMENT_UNAVAILABLE``, never that compliance acted (tipping off)
FROZEN = "frozen"


@attrs.frozen
class Decision:
    """Whether a movement is allowed, and why not (``limit`` names the rule that refused it)."""

    allowed: bool
    reason: str
    limit: str | None = None
    remaining: Money | None = None  # what the refusing limit still allows (KES), when a limit refused
    # Allowed within the product's own row for the tier (``product_limited`` is true): what the party used of the
    # product counts, so concurrent movements of it must be serialised to keep the row (a tier-0 receipt)
    limited: bool = False

    def enforce(self) -> None:
        """Raise ``LimitExceeded`` with the reason, the limit's name and what remains, if the movement is refused;
        a compliance freeze (``limit`` ``frozen``) raises the neutral ``MovementUnavailable`` instead, which names
        neither the party nor compliance (no tipping off).

        >>> Decision(False, MOVEMENT_UNAVAILABLE, FROZEN).enforce()
        Traceback (most recent call last):
        ...
        cryptopay.core.errors.MovementUnavailable: this cannot be done on this account at the moment: contact support
        """
        if not self.allowed and self.limit == FROZEN:
            raise MovementUnavailable(MOVEMENT_UNAVAILABLE)
        if not self.allowed:
            remaining = None if self.remaining is None else str(self.remaining.amount)
            raise LimitExceeded(self.reason, limit=self.limit, remaining=remaining)


Standing = KycProfile | KycStanding
"""What the limit checks take of a party: its whole KYC profile, or only its standing (``KycStanding``, what they read
of the profile: the tier in force and whether it is frozen)."""


def _shillings(money: Money) -> str:
    return f"KES {money.amount:,}"


def check_movement(
    profile: Standing,
    amount: Money,
    *,
    spent_today: Money,
    spent_this_month: Money,
    at: datetime,
    policy: KycPolicy = DEFAULT_KYC_POLICY,
) -> Decision:
    """Whether ``profile`` may move ``amount`` (KES value) now, given what it moved today and this month."""
    return _check_movement(profile, amount, spent_today, spent_this_month, at, policy)[0]


_OPENINGS = {
    "single": "{} is above the single-movement limit",
    "daily": "{} would bring today's total to",
    "monthly": "{} would bring this month's total to",
}


def _check_movement(
    profile: Standing, amount: Money, spent_today: Money, spent_this_month: Money, at: datetime, policy: KycPolicy
) -> tuple[Decision, KycTier | None]:
    """``check_movement``'s decision and the tier it found (None when the profile holds none)."""
    for money in (amount, spent_today, spent_this_month):
        if money.asset is not KES and money.asset != KES:
            raise AssetMismatch(f"KYC limits are in KES: convert {money.asset.code} to its KES value first")
    if not amount.is_positive():
        raise InvalidAmount(f"a movement must be positive, got {amount}")
    if profile.frozen:
        return Decision(False, MOVEMENT_UNAVAILABLE, FROZEN), None
    tier = profile.tier_at(at, policy=policy)
    if tier is None:
        return Decision(False, f"{profile.party_id} is not verified: verify a phone number first", "tier"), tier
    checks = (
        ("single", amount, tier.single_limit),
        ("daily", spent_today + amount, tier.daily_limit),
        ("monthly", spent_this_month + amount, tier.monthly_limit),
    )
    for name, value, limit in checks:
        if value > limit:
            opening = _OPENINGS[name].format(_shillings(amount))
            above = "" if name == "single" else f" {_shillings(value)}, above the {name} limit"
            remaining = _remaining(limit, value - amount)
            reason = f"{opening}{above} of {_shillings(limit)} for {tier.label}"
            return Decision(False, reason, name, remaining), tier
    return Decision(True, f"within the limits of {tier.label}"), tier


def _remaining(limit: Money, used: Money) -> Money:
    left = limit - used
    return left if left.is_positive() else Money.zero(KES)


class Product(enum.Enum):
    """A personal wallet's products, each with its own limits per tier."""

    BUY = "buy"  # buy crypto with M-Pesa
    SELL = "sell"  # sell crypto to M-Pesa
    P2P = "p2p"  # send to another person
    WITHDRAW = "withdraw"  # send crypto on chain
    BILL = "bill"  # pay a bill
    REMITTANCE = "remittance"  # receive a remittance from abroad into the wallet
    RECEIVE = "receive"  # receive from another person (a P2P send, a claimed invitation) or a crypto deposit


INCOMING = frozenset({Product.REMITTANCE, Product.RECEIVE})
"""The products that bring money in: checked against their own rows only, not counted in the tier's totals."""


def _optional_kes(value: object) -> Money | None:
    return None if value is None else value if isinstance(value, Money) else Money.of(value, KES)


@attrs.frozen(kw_only=True)
class ProductLimit:
    """One product's KES limits for one tier; ``None`` leaves only the tier's own limit (zero: not allowed)."""

    kind: PartyKind
    level: int
    product: Product
    single: Money | None = attrs.field(default=None, converter=_optional_kes)
    daily: Money | None = attrs.field(default=None, converter=_optional_kes)
    monthly: Money | None = attrs.field(default=None, converter=_optional_kes)


def _limits(rows: Iterable[ProductLimit]) -> tuple[ProductLimit, ...]:
    return tuple(rows)


@attrs.frozen
class ProductLimits:
    """The per-product limit table (data, not code); a product with no row for a tier has only the tier's limits."""

    rows: tuple[ProductLimit, ...] = attrs.field(converter=_limits)
    _index: dict[tuple[PartyKind, int, Product], ProductLimit] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        index: dict[tuple[PartyKind, int, Product], ProductLimit] = {}
        for row in self.rows:
            index.setdefault((row.kind, row.level, row.product), row)  # the first row of a key, as a scan finds it
        object.__setattr__(self, "_index", index)

    def find(self, kind: PartyKind, level: int, product: Product) -> ProductLimit | None:
        return self._index.get((kind, level, product))


@attrs.frozen
class Spending:
    """What a party moved already (KES values): in total and per product, today and this month (Nairobi time)."""

    today: Money
    this_month: Money
    product_today: Mapping[Product, Money] = attrs.field(factory=dict)
    product_this_month: Mapping[Product, Money] = attrs.field(factory=dict)

    @classmethod
    def nothing(cls) -> Spending:
        return cls(Money.zero(KES), Money.zero(KES))

    def of(self, product: Product) -> tuple[Money, Money]:
        zero = Money.zero(KES)
        return self.product_today.get(product, zero), self.product_this_month.get(product, zero)


_P = PartyKind.PERSONAL
PRODUCT_LIMITS = ProductLimits(
    [
        # Tier 0 (a verified phone) may hold money and buy small amounts: nothing leaves the wallet before tier 1.
        ProductLimit(kind=_P, level=0, product=Product.BUY, single="5000", daily="10000", monthly="30000"),
        ProductLimit(kind=_P, level=0, product=Product.SELL, single="0", daily="0", monthly="0"),
        ProductLimit(kind=_P, level=0, product=Product.P2P, single="0", daily="0", monthly="0"),
        ProductLimit(kind=_P, level=0, product=Product.WITHDRAW, single="0", daily="0", monthly="0"),
        ProductLimit(kind=_P, level=0, product=Product.BILL, single="0", daily="0", monthly="0"),
        # Tier 1: crypto leaving to an outside address is capped lower than money staying inside Kenya's rails.
        ProductLimit(kind=_P, level=1, product=Product.WITHDRAW, single="50000", daily="100000", monthly="500000"),
        ProductLimit(kind=_P, level=1, product=Product.P2P, daily="100000", monthly="700000"),
        # Receiving. Tier 0 holds small amounts only: what it may take from other people and from the chain is
        # bounded like what it may buy (a single payment of KES 5,000; KES 10,000 a day; KES 30,000 a month).
        # Remittances are a budget of their own (the REMITTANCE row below, the same figures), so a phone-only
        # wallet takes in at most about KES 90,000 a month before its holder is identified: 30,000 bought, 30,000
        # received from people and the chain, 30,000 of remittances (review8 R3; whether remittances should share
        # the RECEIVE budget at tier 0 is a policy question). Tiers 1 and 2 receive without a product limit (no
        # row): the holder is identified.
        ProductLimit(kind=_P, level=0, product=Product.RECEIVE, single="5000", daily="10000", monthly="30000"),
        # Remittances from abroad into a wallet, counted on their own (``INCOMING``). Tier 0 takes what it takes from
        # anyone (its RECEIVE row): a phone-only wallet is "hold and buy small amounts only" (issue #14), and a
        # remittance is the riskier inflow (cross-border, a sender we know by name and country only: FATF R.16's
        # originator data is complete only from its threshold, ``compliance.travel_rule``). The tier's own figures
        # (20,000 a day, 100,000 a month) let an unidentified wallet take in five times its RECEIVE budget. More than
        # this row is not lost nor refused: it is paid by B2C to the same phone's M-Pesa account, whose holder
        # Safaricom identified at registration and whose own limits (KES 250,000 a payment, 500,000 a day) apply,
        # as for a phone with no wallet (``remittances.service``). Tiers 1 and 2 (ID verified) keep their tiers'.
        ProductLimit(kind=_P, level=0, product=Product.REMITTANCE, single="5000", daily="10000", monthly="30000"),
        ProductLimit(kind=_P, level=1, product=Product.REMITTANCE, single="70000", daily="150000", monthly="1000000"),
        ProductLimit(kind=_P, level=2, product=Product.REMITTANCE, single="250000", daily="500000", monthly="3000000"),
    ]
)


def check_wallet_movement(
    profile: Standing,
    product: Product,
    amount: Money,
    *,
    spent: Spending,
    at: datetime,
    policy: KycPolicy = DEFAULT_KYC_POLICY,
    products: ProductLimits = PRODUCT_LIMITS,
) -> Decision:
    """Whether ``profile`` may use ``product`` for ``amount`` (KES value) now: the tier's limits, then the product's.

    >>> from cryptopay.core.kyc.profile import KycProfile
    >>> from cryptopay.core.kyc.tiers import Requirement
    >>> now = datetime(2026, 3, 2, 8, 0, tzinfo=NAIROBI)
    >>> amina = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
    >>> _ = amina.submit(0, {Requirement.PHONE}, at=now)
    >>> check_wallet_movement(amina, Product.BUY, Money.of("3000", KES), spent=Spending.nothing(), at=now).allowed
    True
    >>> refused = check_wallet_movement(amina, Product.P2P, Money.of("100", KES), spent=Spending.nothing(), at=now)
    >>> refused.limit, refused.remaining, refused.reason
    ('p2p.single', Money('0.00', 'KES'), 'tier 0 (phone verified) cannot send to other people: verify your national ID')

    Receiving (``INCOMING``) is checked against the product's row only (what was received, not what was spent):

    >>> received = Spending.nothing()
    >>> check_wallet_movement(amina, Product.RECEIVE, Money.of("6000", KES), spent=received, at=now).limit
    'receive.single'
    """
    if product in INCOMING:
        overall, tier = _check_receiving(profile, amount, at, policy)
    else:
        overall, tier = _check_movement(profile, amount, spent.today, spent.this_month, at, policy)
    if not overall.allowed:
        return overall
    row = None if tier is None else products.find(profile.kind, tier.level, product)
    if tier is None or row is None:
        return overall
    today, month = spent.of(product)
    checks = (
        ("single", amount, row.single),
        ("daily", today + amount, row.daily),
        ("monthly", month + amount, row.monthly),
    )
    for name, value, limit in checks:
        if limit is None or value <= limit:
            continue
        what = f"{product.value}.{name}"
        remaining = _remaining(limit, value - amount)
        if not limit.is_positive():
            reason = f"{tier.label} cannot {_VERBS[product]}: verify your national ID"
        elif name == "single":
            reason = (
                f"{_shillings(amount)} is above the {product.value} single limit of {_shillings(limit)} "
                f"for {tier.label}"
            )
        else:
            period = "today's" if name == "daily" else "this month's"
            reason = (
                f"{_shillings(amount)} would bring {period} {product.value} total to {_shillings(value)}, above the "
                f"{product.value} {name} limit of {_shillings(limit)} for {tier.label}; {_shillings(remaining)} remains"
            )
        return Decision(False, reason, what, remaining)
    return Decision(True, f"within the {product.value} limits of {tier.label}", limited=True)


def product_limited(
    profile: Standing,
    product: Product,
    *,
    at: datetime,
    policy: KycPolicy = DEFAULT_KYC_POLICY,
    products: ProductLimits = PRODUCT_LIMITS,
) -> bool:
    """Whether ``product`` is limited for ``profile`` now beyond nothing: frozen, no tier, or a row for its tier (an
    amount that cannot be valued can only be taken when this is False).

    >>> now = datetime(2026, 3, 2, 8, 0, tzinfo=NAIROBI)
    >>> product_limited(KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL), Product.RECEIVE, at=now)
    True
    """
    tier = profile.tier_at(at, policy=policy)
    return profile.frozen or tier is None or products.find(profile.kind, tier.level, product) is not None


def _check_receiving(
    profile: Standing, amount: Money, at: datetime, policy: KycPolicy
) -> tuple[Decision, KycTier | None]:
    """Whether ``profile`` may receive at all (a tier, not frozen by compliance), and its tier; the amount's limits
    are the receiving product's row (``check_wallet_movement``)."""
    if amount.asset != KES:
        raise AssetMismatch(f"KYC limits are in KES: convert {amount.asset.code} to its KES value first")
    if not amount.is_positive():
        raise InvalidAmount(f"a movement must be positive, got {amount}")
    if profile.frozen:
        return Decision(False, MOVEMENT_UNAVAILABLE, FROZEN), None
    tier = profile.tier_at(at, policy=policy)
    if tier is None:
        return Decision(False, f"{profile.party_id} is not verified: verify a phone number first", "tier"), tier
    return Decision(True, f"within the limits of {tier.label}"), tier


_VERBS: Mapping[Product, str] = {
    Product.BUY: "buy crypto",
    Product.SELL: "sell crypto",
    Product.P2P: "send to other people",
    Product.WITHDRAW: "withdraw crypto",
    Product.BILL: "pay bills",
    Product.REMITTANCE: "receive remittances",
    Product.RECEIVE: "receive money",
}


def check_payout(
    profile: KycProfile | None,
    parts: Sequence[Money],
    *,
    paid_today: Money,
    paid_this_month: Money,
    at: datetime,
    require_kyb: bool,
    policy: KycPolicy = DEFAULT_KYC_POLICY,
) -> Decision:
    """Whether a merchant's payouts (``parts``, KES) may be planned now: not frozen, KYB approved when the
    deployment requires it (``kyb``), and each part within the tier's limits, counted in order after what was paid
    today and this month. A merchant with no verification and no KYB requirement has no tier to limit it.

    >>> now = datetime(2026, 3, 2, 8, 0, tzinfo=NAIROBI)
    >>> duka, zero = KycProfile(party_id="mer_1", kind=PartyKind.MERCHANT), Money.zero(KES)
    >>> check_payout(duka, [Money.of("900", KES)], paid_today=zero, paid_this_month=zero, at=now,
    ...              require_kyb=True).limit
    'kyb'
    """
    if profile is not None and profile.frozen:
        return Decision(False, MOVEMENT_UNAVAILABLE, FROZEN)
    tier = None if profile is None else profile.tier_at(at, policy=policy)
    if require_kyb and (tier is None or tier.level < 1):
        name = "this merchant" if profile is None else profile.party_id
        return Decision(False, f"{name} is not KYB-verified yet: settlement waits for the approval", "kyb")
    if profile is None or tier is None:
        return Decision(True, "no verification tier to limit this merchant")
    today, month = paid_today, paid_this_month
    for part in parts:
        decision = check_movement(profile, part, spent_today=today, spent_this_month=month, at=at, policy=policy)
        if not decision.allowed:
            return decision
        today, month = today + part, month + part
    return Decision(True, f"within the limits of {tier.label}")


def day_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The Nairobi calendar day containing ``at``, as [start, end) aware datetimes (limits reset at midnight EAT).

    >>> from datetime import timezone
    >>> [d.isoformat() for d in day_bounds(datetime(2026, 3, 1, 22, 30, tzinfo=timezone.utc))]
    ['2026-03-02T00:00:00+03:00', '2026-03-03T00:00:00+03:00']
    """
    start = datetime.combine(at.astimezone(NAIROBI).date(), time(0), tzinfo=NAIROBI)
    return start, start + timedelta(days=1)


def month_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The Nairobi calendar month containing ``at``, as [start, end) aware datetimes."""
    local = at.astimezone(NAIROBI).date()
    start = datetime(local.year, local.month, 1, tzinfo=NAIROBI)
    following = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=NAIROBI)
    return start, following
