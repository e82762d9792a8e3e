"""Fee schedules as versioned data, and fee quotes that show each component.

Invariant: a fee is never negative, never above the schedule's maximum, never above the amount it is
charged on, and its components add up to it. Fees round up, to the platform.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import KES, Money
>>> payout = FeeSchedule(product=FeeProduct.MPESA_PAYOUT, asset=KES, version=1,
...                      effective_from=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                      percent=Decimal("0.5"), fixed=Money.of("10", KES), maximum=Money.of("100", KES))
>>> quote = payout.quote(Money.of("5000", KES))
>>> quote.fee, quote.net
(Money('35.00', 'KES'), Money('4965.00', 'KES'))
>>> [(c.name, str(c.amount)) for c in quote.components]
[('percent', '25.00 KES'), ('fixed', '10.00 KES')]
>>> payout.quote(Money.of("100000", KES)).fee
Money('100.00', 'KES')
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.errors import AssetMismatch, InvalidAmount, InvalidInput, NotFound
from cryptopay.core.fx import Quote
from cryptopay.core.money import Asset, Money, Rounding, to_decimal

__all__ = [
    "FeeBook",
    "FeeComponent",
    "FeeProduct",
    "FeeQuote",
    "FeeSchedule",
    "FeeTier",
    "TierBasis",
    "fx_spread",
]

_HUNDRED = Decimal(100)


class FeeProduct(enum.Enum):
    """What a fee is charged for."""

    MERCHANT = "merchant"  # on an invoice payment received for a merchant
    FX_SPREAD = "fx_spread"  # the margin either side of the mid when a quote is locked
    CRYPTO_WITHDRAWAL = "crypto_withdrawal"  # on an on-chain send
    MPESA_PAYOUT = "mpesa_payout"  # on each M-Pesa (or bank) payout to a merchant
    P2P = "p2p"  # on a transfer between two personal wallets (none by default: free)


class TierBasis(enum.Enum):
    """What selects a tier: the payer's volume in the period, or the charged amount itself (M-Pesa bands)."""

    VOLUME = "volume"
    AMOUNT = "amount"


def _percent(value: object) -> Decimal:
    result = to_decimal(value)
    if not Decimal(0) <= result <= _HUNDRED:
        raise InvalidInput(f"a fee percent must be between 0 and 100, got {result}")
    return result


@attrs.frozen
class FeeTier:
    """From ``from_amount`` upwards (volume or amount, per the schedule's basis): ``percent`` % plus ``fixed``."""

    from_amount: Money
    percent: Decimal = attrs.field(converter=_percent)
    fixed: Money


@attrs.frozen
class FeeComponent:
    """One line of a fee quote, e.g. the percent part, the fixed part, or a cap's adjustment (negative)."""

    name: str
    amount: Money
    detail: str


@attrs.frozen
class FeeQuote:
    """The fee on ``amount`` under one schedule version, with its components (they sum to ``fee``)."""

    schedule_id: str
    amount: Money
    fee: Money
    components: tuple[FeeComponent, ...]

    @property
    def net(self) -> Money:
        """The amount after the fee (never negative)."""
        return self.amount - self.fee


@attrs.frozen(kw_only=True)
class FeeSchedule:
    """A versioned fee rule for one product and asset: percent + fixed, min/max caps, optional tiers."""

    product: FeeProduct
    asset: Asset
    version: int
    effective_from: datetime
    name: str = "standard"
    percent: Decimal = attrs.field(default=Decimal(0), converter=_percent)
    fixed: Money | None = None
    minimum: Money | None = None
    maximum: Money | None = None
    tiers: tuple[FeeTier, ...] = ()
    tier_basis: TierBasis = TierBasis.VOLUME

    def __attrs_post_init__(self) -> None:
        if self.effective_from.tzinfo is None:
            raise InvalidInput("a fee schedule's effective_from must be timezone-aware")
        if self.version < 1:
            raise InvalidInput("fee schedule versions start at 1")
        money = [self.fixed, self.minimum, self.maximum]
        money += [m for tier in self.tiers for m in (tier.from_amount, tier.fixed)]
        for item in money:
            if item is not None and (item.asset != self.asset or item.is_negative()):
                raise InvalidInput(f"fee schedule {self.id}: amounts must be non-negative {self.asset.code}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise InvalidInput(f"fee schedule {self.id}: minimum {self.minimum} is above maximum {self.maximum}")
        starts = [tier.from_amount.amount for tier in self.tiers]
        if starts != sorted(set(starts)):
            raise InvalidInput(f"fee schedule {self.id}: tiers must have strictly increasing from_amount")

    @property
    def id(self) -> str:
        """A stable name for this version, e.g. ``"merchant:USDT:standard:v2"``."""
        return f"{self.product.value}:{self.asset.code}:{self.name}:v{self.version}"

    @property
    def rate(self) -> Decimal:
        """The percent as a fraction (0.5 % -> 0.005), e.g. the FX spread margin for ``fx.lock_quote``."""
        return self.percent / _HUNDRED

    def _rule(self, basis: Money) -> tuple[Decimal, Money, str]:
        chosen = (self.percent, self.fixed or Money.zero(self.asset), "base")
        for tier in self.tiers:
            if tier.from_amount <= basis:
                chosen = (tier.percent, tier.fixed, f"tier from {tier.from_amount}")
        return chosen

    def quote(self, amount: Money, *, volume: Money | None = None) -> FeeQuote:
        """The fee on ``amount``; ``volume`` (the period's volume so far) picks the tier on a volume basis."""
        if amount.asset != self.asset:
            raise AssetMismatch(f"fee schedule {self.id} charges {self.asset.code}, not {amount.asset.code}")
        if amount.is_negative():
            raise InvalidAmount(f"cannot charge a fee on a negative amount {amount}")
        basis = amount if self.tier_basis is TierBasis.AMOUNT else (volume or Money.zero(self.asset))
        percent, fixed, tier = self._rule(basis)
        parts = [
            FeeComponent("percent", amount.times(percent / _HUNDRED, Rounding.UP), f"{percent}% of {amount} ({tier})"),
            FeeComponent("fixed", fixed, f"fixed ({tier})"),
        ]
        parts += _caps(sum((p.amount for p in parts), Money.zero(self.asset)), amount, self.minimum, self.maximum)
        shown = tuple(p for p in parts if not p.amount.is_zero())
        return FeeQuote(self.id, amount, sum((p.amount for p in parts), Money.zero(self.asset)), shown)


def _caps(raw: Money, amount: Money, minimum: Money | None, maximum: Money | None) -> list[FeeComponent]:
    """Adjustments that bring ``raw`` into [minimum, maximum] and never above ``amount``."""
    adjustments: list[FeeComponent] = []
    fee = raw
    if minimum is not None and fee < minimum:
        adjustments.append(FeeComponent("minimum", minimum - fee, f"raised to the minimum fee {minimum}"))
        fee = minimum
    if maximum is not None and fee > maximum:
        adjustments.append(FeeComponent("maximum", maximum - fee, f"capped at the maximum fee {maximum}"))
        fee = maximum
    if fee > amount:
        # A fee is taken out of what it is charged on; it can never make the net negative.
        adjustments.append(FeeComponent("capped_at_amount", amount - fee, f"capped at the amount {amount}"))
    return adjustments


def _schedules(schedules: Iterable[FeeSchedule]) -> tuple[FeeSchedule, ...]:
    return tuple(schedules)


@attrs.frozen
class FeeBook:
    """All fee schedule versions; picks the version in force at a moment.

    >>> from datetime import datetime, timezone
    >>> from cryptopay.core.money import USDT
    >>> jan, jun = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 6, 1, tzinfo=timezone.utc)
    >>> book = FeeBook((
    ...     FeeSchedule(product=FeeProduct.MERCHANT, asset=USDT, version=1, effective_from=jan, percent=Decimal(1)),
    ...     FeeSchedule(product=FeeProduct.MERCHANT, asset=USDT, version=2, effective_from=jun, percent=Decimal(2)),
    ... ))
    >>> book.quote(FeeProduct.MERCHANT, Money.of("100", USDT), at=datetime(2026, 3, 1, tzinfo=timezone.utc)).fee
    Money('1.000000', 'USDT')
    >>> book.schedule_for(FeeProduct.MERCHANT, USDT, at=datetime(2026, 7, 1, tzinfo=timezone.utc)).id
    'merchant:USDT:standard:v2'
    """

    schedules: tuple[FeeSchedule, ...] = attrs.field(converter=_schedules)

    def __attrs_post_init__(self) -> None:
        ids = [s.id for s in self.schedules]
        if len(ids) != len(set(ids)):
            raise InvalidInput("a fee book holds each schedule version once")

    def schedule_for(self, product: FeeProduct, asset: Asset, *, at: datetime, name: str = "standard") -> FeeSchedule:
        """The latest version of ``name`` for ``product`` and ``asset`` in force at ``at``."""
        found = self.find(product, asset, at=at, name=name)
        if found is None:
            raise NotFound(f"no {name} {product.value} fee schedule for {asset.code} in force at {at.isoformat()}")
        return found

    def find(self, product: FeeProduct, asset: Asset, *, at: datetime, name: str = "standard") -> FeeSchedule | None:
        """``schedule_for``, or None when there is no such schedule (a product that is free without one)."""
        candidates = [
            s
            for s in self.schedules
            if s.product is product and s.asset == asset and s.name == name and s.effective_from <= at
        ]
        return max(candidates, key=lambda s: (s.effective_from, s.version)) if candidates else None

    def quote(
        self, product: FeeProduct, amount: Money, *, at: datetime, name: str = "standard", volume: Money | None = None
    ) -> FeeQuote:
        """The fee on ``amount`` under the schedule in force at ``at``."""
        return self.schedule_for(product, amount.asset, at=at, name=name).quote(amount, volume=volume)


def fx_spread(quote: Quote, amount: Money, *, at: datetime) -> Money:
    """What the platform keeps by converting ``amount`` at the quote's bid/ask rather than at its mid.

    >>> from datetime import datetime, timedelta, timezone
    >>> from cryptopay.core.fx import Pair
    >>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> q = Quote("q1", Pair.parse("USDT/KES"), Decimal("128.554"), Decimal("129.846"), ("a",), now,
    ...           now + timedelta(minutes=15))
    >>> fx_spread(q, Money.of("100", "USDT"), at=now)
    Money('64.60', 'KES')
    """
    at_quote = quote.convert(amount, at=at)
    at_mid = attrs.evolve(quote, bid=quote.mid, ask=quote.mid).convert(amount, at=at)
    if amount.asset == quote.pair.base:
        return at_mid - at_quote
    # quote -> base: the customer receives fewer base units; value the difference at the mid, in the quote asset.
    return Money.rounded((at_mid - at_quote).amount * quote.mid, quote.pair.quote, Rounding.DOWN)
