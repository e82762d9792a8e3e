"""Whether a movement is allowed under the tier a party holds, and the Nairobi days and months limits count in."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import attrs
from cryptopay.core.errors import AssetMismatch, InvalidAmount, LimitExceeded
from cryptopay.core.kyc.profile import KycProfile
from cryptopay.core.kyc.tiers import DEFAULT_KYC_POLICY, KycPolicy
from cryptopay.core.money import KES, Money
from cryptopay.core.system import NAIROBI

__all__ = ["Decision", "check_movement", "day_bounds", "month_bounds"]


@attrs.frozen
class Decision:
    """Whether a movement is allowed, and why not (``limit`` names the rule that refused it)."""

    allowed: bool
    reason: str
    limit: str | None = None

    def enforce(self) -> None:
        """Raise ``LimitExceeded`` with the reason if the movement is not allowed."""
        if not self.allowed:
            raise LimitExceeded(self.reason, limit=self.limit)


def _shillings(money: Money) -> str:
    return f"KES {money.amount:,}"


def check_movement(
    profile: KycProfile,
    amount: Money,
    *,
    spent_today: Money,
    spent_this_month: Money,
    at: datetime,
    policy: KycPolicy = DEFAULT_KYC_POLICY,
) -> Decision:
    """Whether ``profile`` may move ``amount`` (KES value) now, given what it moved today and this month."""
    for money in (amount, spent_today, spent_this_month):
        if money.asset != KES:
            raise AssetMismatch(f"KYC limits are in KES: convert {money.asset.code} to its KES value first")
    if not amount.is_positive():
        raise InvalidAmount(f"a movement must be positive, got {amount}")
    tier = profile.tier_at(at, policy=policy)
    if tier is None:
        return Decision(False, f"{profile.party_id} is not verified: verify a phone number and email first", "tier")
    what = _shillings(amount)
    checks = (
        ("single", amount, tier.single_limit, f"{what} is above the single-movement limit"),
        ("daily", spent_today + amount, tier.daily_limit, f"{what} would bring today's total to"),
        ("monthly", spent_this_month + amount, tier.monthly_limit, f"{what} would bring this month's total to"),
    )
    for name, value, limit, opening in checks:
        if value > limit:
            above = "" if name == "single" else f" {_shillings(value)}, above the {name} limit"
            return Decision(False, f"{opening}{above} of {_shillings(limit)} for {tier.label}", name)
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
