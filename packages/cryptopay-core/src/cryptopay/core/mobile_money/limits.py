"""M-Pesa product limits: whole shillings only, within each product's per-transaction range.

>>> STK_LIMITS.check("1500")
Money('1500.00', 'KES')
>>> B2C_LIMITS.check(5)
Traceback (most recent call last):
...
cryptopay.core.errors.LimitExceeded: B2C moves KES 10 to 250,000 a transaction; 5 is below the minimum
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.errors import InvalidAmount, LimitExceeded
from cryptopay.core.fees import FeeProduct, FeeSchedule, FeeTier, TierBasis
from cryptopay.core.money import KES, Money

__all__ = [
    "B2B_LIMITS",
    "B2B_TARIFF",
    "B2C_LIMITS",
    "B2C_TARIFF",
    "DAILY_CUSTOMER_LIMIT",
    "REVERSAL_LIMITS",
    "STK_LIMITS",
    "AmountLimits",
    "Tariff",
    "shillings",
    "whole_shillings",
]

DAILY_CUSTOMER_LIMIT = Money.of(500_000, KES)  # also the maximum wallet balance of a customer


def whole_shillings(value: object) -> Money:
    """KES money with no cents: M-Pesa refuses a decimal amount, so we refuse it first."""
    if isinstance(value, Money):
        if value.asset != KES:
            raise InvalidAmount(f"M-Pesa moves KES, not {value.asset.code}")
        money = value
    else:
        money = Money.of(value, KES)
    if money.amount != money.amount.to_integral_value():
        raise InvalidAmount(f"M-Pesa moves whole shillings: {money.amount} KES has cents; round it explicitly")
    return money


def shillings(money: Money) -> str:
    """Whole shillings as Daraja writes them: ``"1500"`` (cents only if present, never a float).

    >>> shillings(Money.of("1.00", "KES"))
    '1'
    """
    amount = money.amount
    if amount == amount.to_integral_value():
        return str(amount.quantize(Decimal(1)))
    return str(amount)


@attrs.frozen
class AmountLimits:
    """The per-transaction range of one M-Pesa product, in whole shillings."""

    product: str
    minimum: int
    maximum: int

    def check(self, value: object) -> Money:
        """Return the amount as KES Money, or raise ``InvalidAmount`` / ``LimitExceeded``."""
        money = whole_shillings(value)
        if money.amount < self.minimum:
            raise LimitExceeded(f"{self._range()}; {shillings(money)} is below the minimum")
        if money.amount > self.maximum:
            raise LimitExceeded(f"{self._range()}; {shillings(money)} is above the maximum")
        return money

    def _range(self) -> str:
        return f"{self.product} moves KES {self.minimum:,} to {self.maximum:,} a transaction"


STK_LIMITS = AmountLimits("STK Push", 1, 250_000)
B2C_LIMITS = AmountLimits("B2C", 10, 250_000)
# Daraja publishes no separate B2B or reversal figure in our notes; the same 250,000 cap is the conservative choice.
B2B_LIMITS = AmountLimits("B2B", 1, 250_000)
REVERSAL_LIMITS = AmountLimits("Reversal", 1, 250_000)


@attrs.frozen
class Tariff:
    """What M-Pesa charges per transaction, by band of the amount sent (whole shillings; data, not code)."""

    product: str
    bands: tuple[tuple[int, int, int], ...]  # (from, to, charge), inclusive

    def charge(self, amount: Money) -> Money:
        """The charge for sending ``amount``.

        >>> B2C_TARIFF.charge(Money.of(1000, KES))
        Money('5.00', 'KES')
        """
        whole = int(amount.amount)
        for low, high, fee in self.bands:
            if low <= whole <= high:
                return Money.of(fee, KES)
        raise LimitExceeded(f"{self.product} has no tariff for KES {whole:,}")

    def most_sent(self, total: Money) -> Money:
        """The most whole shillings that can be sent out of ``total`` with the charge on them (zero when not even
        the least band fits). The charge is by band of the amount *sent*, so just above a band's edge sending a
        little less costs a smaller charge and pays the recipient more; ``LimitExceeded`` when ``total`` is more
        than the top band and its charge.

        >>> B2C_TARIFF.most_sent(Money.of("1503.40", KES))  # 1,498 + 5 (at the band of 1,503 it was 1,494 + 9)
        Money('1498.00', 'KES')
        """
        top, top_fee = max((high, fee) for _, high, fee in self.bands)
        if total.amount - top_fee >= top + 1:
            raise LimitExceeded(f"{self.product} sends at most KES {top:,} a transaction")
        fits = (min(high, int((total.amount - fee) // 1)) for low, high, fee in self.bands if total.amount - fee >= low)
        return Money.of(max(fits, default=0), KES)

    def fee_schedule(self, *, version: int, effective_from: datetime) -> FeeSchedule:
        """These bands as a merchant's M-Pesa payout charge: each part of a settlement is charged what M-Pesa
        charges for sending it (a tier per band, chosen by the part's own amount), so the charge is passed on.

        >>> from datetime import timezone
        >>> charges = B2C_TARIFF.fee_schedule(version=1, effective_from=datetime(2026, 1, 1, tzinfo=timezone.utc))
        >>> [str(charges.quote(Money.of(sent, KES)).fee) for sent in (100, 101, 1500, 1501, 250000)]
        ['0.00 KES', '5.00 KES', '5.00 KES', '9.00 KES', '13.00 KES']
        """
        tiers = tuple(FeeTier(Money.of(low, KES), Decimal(0), Money.of(fee, KES)) for low, _, fee in self.bands)
        return FeeSchedule(
            product=FeeProduct.MPESA_PAYOUT,
            asset=KES,
            version=version,
            effective_from=effective_from,
            tiers=tiers,
            tier_basis=TierBasis.AMOUNT,
        )

    def passed_on_by(self, schedule: FeeSchedule) -> bool:
        """Whether ``schedule`` charges exactly these bands (``fee_schedule``, whatever its version)."""
        bands = self.fee_schedule(version=schedule.version, effective_from=schedule.effective_from)
        return attrs.evolve(schedule, name=bands.name) == bands


# Safaricom's B2C charges to registered customers as published for bulk disbursements (review when Safaricom
# changes them: this table is the only place they live).
B2C_TARIFF = Tariff(
    "B2C",
    (
        (10, 100, 0),
        (101, 1500, 5),
        (1501, 5000, 9),
        (5001, 20000, 11),
        (20001, 250000, 13),
    ),
)

# Safaricom's charge on a B2B payment (BusinessPayBill, BusinessBuyGoods: a merchant's paybill, till or bank by
# paybill, a wallet's bill) is not in our data: Safaricom publishes no B2B band table in our notes, and the B2B
# result's ``DebitPartyCharges`` (where Daraja names the charge it took) comes empty from the sandbox. Until the
# bands are known, a B2B payment books no M-Pesa charge and passes none on (``Payout.mpesa_tariff``).
B2B_TARIFF: Tariff | None = None
