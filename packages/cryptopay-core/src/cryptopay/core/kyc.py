"""KYC: tiers with KES limits, the verification status machine, and whether a movement is allowed.

A party (a person or a merchant) holds one granted tier at a time. Applying for a higher tier leaves the
current one in force until an admin decides; the highest tier of each kind needs two different admins.
An approval that lapses drops the party back to the tiers that need no review (phone and email).

>>> from datetime import datetime, timezone
>>> now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
>>> alice = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
>>> [e.name for e in alice.submit(0, {Requirement.PHONE, Requirement.EMAIL}, at=now)]
['kyc.submitted', 'kyc.approved']
>>> decision = check_movement(alice, Money.of("15000", KES), spent_today=Money.of("10000", KES),
...                           spent_this_month=Money.of("10000", KES), at=now)
>>> decision.allowed, decision.reason
(False, 'KES 15,000.00 is above the single-movement limit of KES 5,000.00 for tier 0 (phone and email)')
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta

import attrs
from cryptopay.core.errors import (
    AssetMismatch,
    Conflict,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    Refused,
)
from cryptopay.core.money import KES, Money
from cryptopay.core.system import NAIROBI

__all__ = [
    "DEFAULT_KYC_POLICY",
    "Decision",
    "KycEvent",
    "KycPolicy",
    "KycProfile",
    "KycStatus",
    "KycTier",
    "PartyKind",
    "Requirement",
    "check_movement",
    "day_bounds",
    "month_bounds",
]


class PartyKind(enum.Enum):
    PERSONAL = "personal"
    MERCHANT = "merchant"


class Requirement(enum.Enum):
    """A piece of verified evidence."""

    PHONE = "phone"
    EMAIL = "email"
    NATIONAL_ID = "national_id"  # the ID number checked against the registry
    ID_DOCUMENT = "id_document"  # a photo of the ID card or passport
    SELFIE = "selfie"
    BUSINESS_REGISTRATION = "business_registration"
    KRA_PIN = "kra_pin"


class KycStatus(enum.Enum):
    UNVERIFIED = "unverified"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


def _requirements(values: Iterable[Requirement]) -> frozenset[Requirement]:
    return frozenset(values)


def _kes(value: object) -> Money:
    return value if isinstance(value, Money) else Money.of(value, KES)


@attrs.frozen(kw_only=True)
class KycTier:
    """A tier: the evidence it needs, its KES limits, how many admins approve it, and how long it lasts."""

    kind: PartyKind
    level: int
    name: str
    requirements: frozenset[Requirement] = attrs.field(converter=_requirements)
    single_limit: Money = attrs.field(converter=_kes)
    daily_limit: Money = attrs.field(converter=_kes)
    monthly_limit: Money = attrs.field(converter=_kes)
    approvals_required: int = 1
    validity: timedelta | None = None

    @property
    def label(self) -> str:
        return f"tier {self.level} ({self.name})"


_CONTACT = frozenset({Requirement.PHONE, Requirement.EMAIL})
_ID = _CONTACT | {Requirement.NATIONAL_ID}
_DOCS = _ID | {Requirement.ID_DOCUMENT, Requirement.SELFIE}
_BUSINESS = _CONTACT | {Requirement.BUSINESS_REGISTRATION, Requirement.KRA_PIN}


def _tiers(tiers: Iterable[KycTier]) -> tuple[KycTier, ...]:
    return tuple(tiers)


@attrs.frozen
class KycPolicy:
    """The tier table (data, not code)."""

    tiers: tuple[KycTier, ...] = attrs.field(converter=_tiers)

    def tier(self, kind: PartyKind, level: int) -> KycTier:
        for tier in self.tiers:
            if tier.kind is kind and tier.level == level:
                return tier
        raise InvalidInput(f"there is no {kind.value} KYC tier {level}")

    def for_kind(self, kind: PartyKind) -> list[KycTier]:
        return sorted((t for t in self.tiers if t.kind is kind), key=lambda t: t.level)


_P, _M, _DAY = PartyKind.PERSONAL, PartyKind.MERCHANT, timedelta(days=1)
DEFAULT_KYC_POLICY = KycPolicy(
    [
        KycTier(kind=_P, level=0, name="phone and email", requirements=_CONTACT, single_limit="5000",
                daily_limit="20000", monthly_limit="100000", approvals_required=0),
        KycTier(kind=_P, level=1, name="national ID verified", requirements=_ID, single_limit="70000",
                daily_limit="150000", monthly_limit="1000000", validity=730 * _DAY),
        KycTier(kind=_P, level=2, name="ID document and selfie", requirements=_DOCS, single_limit="250000",
                daily_limit="500000", monthly_limit="3000000", approvals_required=2, validity=365 * _DAY),
        KycTier(kind=_M, level=0, name="phone and email", requirements=_CONTACT, single_limit="10000",
                daily_limit="50000", monthly_limit="200000", approvals_required=0),
        KycTier(kind=_M, level=1, name="business registration and KRA PIN", requirements=_BUSINESS,
                single_limit="1000000", daily_limit="5000000", monthly_limit="50000000", approvals_required=2,
                validity=365 * _DAY),
    ]
)  # fmt: skip


@attrs.frozen
class KycEvent:
    """Something that happened to a profile, for the outbox (``kyc.submitted|approval_recorded|approved|...``)."""

    name: str
    party_id: str
    at: datetime
    data: Mapping[str, str] = attrs.field(factory=dict, hash=False)


@attrs.define(kw_only=True)
class KycProfile:
    """A party's verification: the granted tier (``level``) and the state of its latest application."""

    party_id: str
    kind: PartyKind
    status: KycStatus = KycStatus.UNVERIFIED
    level: int | None = None
    requested_level: int | None = None
    evidence: frozenset[Requirement] = attrs.field(factory=frozenset, converter=_requirements)
    approvals: tuple[str, ...] = ()
    reason: str | None = None
    expires_at: datetime | None = None

    def _event(self, name: str, at: datetime, **data: object) -> KycEvent:
        return KycEvent(name, self.party_id, at, {k: str(v) for k, v in data.items()})

    def submit(
        self, level: int, evidence: Iterable[Requirement], *, at: datetime, policy: KycPolicy = DEFAULT_KYC_POLICY
    ) -> list[KycEvent]:
        """Apply for ``level`` with verified ``evidence``; a tier needing no review is granted at once."""
        tier = policy.tier(self.kind, level)
        if self.status is KycStatus.PENDING:
            raise InvalidState(f"{self.party_id} already has tier {self.requested_level} under review")
        current = self.tier_at(at, policy=policy)
        if current is not None and current.level >= level:
            raise InvalidState(f"{self.party_id} already holds {current.label}")
        evidence = self.evidence | frozenset(evidence)
        missing = sorted(r.value for r in tier.requirements - evidence)
        if missing:
            raise InvalidInput(f"{tier.label} needs {', '.join(missing)}", missing=missing)
        self.evidence, self.requested_level, self.approvals, self.reason = evidence, level, (), None
        self.status = KycStatus.PENDING
        events = [self._event("kyc.submitted", at, level=level)]
        if tier.approvals_required == 0:
            events += self._grant(tier, at)
        return events

    def approve(self, admin_id: str, *, at: datetime, policy: KycPolicy = DEFAULT_KYC_POLICY) -> list[KycEvent]:
        """Record an admin's approval; the tier is granted once enough different admins approved."""
        tier = self._pending_tier(policy)
        if admin_id == self.party_id:
            raise Refused("nobody can approve their own KYC application")
        if admin_id in self.approvals:
            raise Conflict(f"{admin_id} already approved; {tier.label} needs a different second admin")
        self.approvals = (*self.approvals, admin_id)
        if len(self.approvals) < tier.approvals_required:
            return [self._event("kyc.approval_recorded", at, level=tier.level, admin=admin_id)]
        return self._grant(tier, at)

    def reject(self, admin_id: str, reason: str, *, at: datetime) -> list[KycEvent]:
        """An admin refuses the pending application; the tier already held stays in force."""
        if self.status is not KycStatus.PENDING:
            raise InvalidState(f"{self.party_id} has no application under review")
        if not reason.strip():
            raise InvalidInput("a rejection needs a reason the applicant can act on")
        level = self.requested_level
        self.status, self.requested_level, self.approvals, self.reason = KycStatus.REJECTED, None, (), reason
        return [self._event("kyc.rejected", at, level=level, admin=admin_id, reason=reason)]

    def expire(self, *, at: datetime, policy: KycPolicy = DEFAULT_KYC_POLICY) -> list[KycEvent]:
        """Lapse the granted tier if its validity is over (nothing happens otherwise)."""
        if self.expires_at is None or at < self.expires_at:
            return []
        lapsed, self.level, self.expires_at = self.level, self._fallback_level(policy), None
        if self.status is KycStatus.APPROVED:
            self.status = KycStatus.EXPIRED
        return [self._event("kyc.expired", at, level=lapsed, now_level=self.level)]

    def tier_at(self, at: datetime, *, policy: KycPolicy = DEFAULT_KYC_POLICY) -> KycTier | None:
        """The tier in force at ``at`` (a lapsed approval counts as lapsed even before ``expire`` ran)."""
        level = self.level
        if self.expires_at is not None and at >= self.expires_at:
            level = self._fallback_level(policy)
        return None if level is None else policy.tier(self.kind, level)

    def _pending_tier(self, policy: KycPolicy) -> KycTier:
        if self.status is not KycStatus.PENDING or self.requested_level is None:
            raise InvalidState(f"{self.party_id} has no application under review")
        return policy.tier(self.kind, self.requested_level)

    def _grant(self, tier: KycTier, at: datetime) -> list[KycEvent]:
        self.status, self.level, self.requested_level = KycStatus.APPROVED, tier.level, None
        self.expires_at = None if tier.validity is None else at + tier.validity
        return [self._event("kyc.approved", at, level=tier.level, approvals=len(self.approvals))]

    def _fallback_level(self, policy: KycPolicy) -> int | None:
        kept = [t.level for t in policy.for_kind(self.kind) if t.validity is None and t.requirements <= self.evidence]
        return max(kept, default=None)


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
