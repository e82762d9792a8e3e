"""KYC tiers as data: the evidence each needs, its KES limits, its approvers and how long it lasts.

>>> tier = DEFAULT_KYC_POLICY.tier(PartyKind.PERSONAL, 1)
>>> tier.label, tier.single_limit, tier.approvals_required, tier.validity.days
('tier 1 (national ID verified)', Money('70000.00', 'KES'), 1, 730)
>>> sorted(r.value for r in tier.requirements)
['national_id', 'phone']
>>> [(t.level, t.approvals_required) for t in DEFAULT_KYC_POLICY.for_kind(PartyKind.MERCHANT)]  # KYB: four eyes
[(0, 0), (1, 2)]
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import timedelta

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money

__all__ = ["DEFAULT_KYC_POLICY", "KycPolicy", "KycTier", "PartyKind", "Requirement"]


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


_PHONE = frozenset({Requirement.PHONE})  # a personal wallet signs up with a verified phone; email is optional
_CONTACT = frozenset({Requirement.PHONE, Requirement.EMAIL})
_ID = _PHONE | {Requirement.NATIONAL_ID}  # email stays optional for people
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
        KycTier(
            kind=_P,
            level=0,
            name="phone verified",
            requirements=_PHONE,
            single_limit="5000",
            daily_limit="20000",
            monthly_limit="100000",
            approvals_required=0,
        ),
        KycTier(
            kind=_P,
            level=1,
            name="national ID verified",
            requirements=_ID,
            single_limit="70000",
            daily_limit="150000",
            monthly_limit="1000000",
            validity=730 * _DAY,
        ),
        KycTier(
            kind=_P,
            level=2,
            name="ID document and selfie",
            requirements=_DOCS,
            single_limit="250000",
            daily_limit="500000",
            monthly_limit="3000000",
            approvals_required=2,
            validity=365 * _DAY,
        ),
        KycTier(
            kind=_M,
            level=0,
            name="phone and email",
            requirements=_CONTACT,
            single_limit="10000",
            daily_limit="50000",
            monthly_limit="200000",
            approvals_required=0,
        ),
        KycTier(
            kind=_M,
            level=1,
            name="business registration and KRA PIN",
            requirements=_BUSINESS,
            single_limit="1000000",
            daily_limit="5000000",
            monthly_limit="50000000",
            approvals_required=2,
            validity=365 * _DAY,
        ),
    ]
)
