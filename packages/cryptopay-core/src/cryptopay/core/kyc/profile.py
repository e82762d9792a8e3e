"""A party's verification: the status machine of its applications and the tier it holds."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, Refused
from cryptopay.core.kyc.tiers import DEFAULT_KYC_POLICY, KycPolicy, KycTier, PartyKind, Requirement

__all__ = ["KycEvent", "KycProfile", "KycStanding", "KycStatus"]


def _requirements(values: Iterable[Requirement]) -> frozenset[Requirement]:
    return frozenset(values)


class KycStatus(enum.Enum):
    UNVERIFIED = "unverified"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


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
    frozen_at: datetime | None = None  # an officer froze the account: every outgoing movement is held
    frozen_by: str | None = None
    freeze_reason: str | None = None

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None

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
        # The reason (free text about the applicant) stays in the profile and the application, sealed at rest; the
        # outbox event, kept after it is published, names the party only.
        return [self._event("kyc.rejected", at, level=level, admin=admin_id)]

    def return_to_applicant(self, admin_id: str, message: str, *, at: datetime) -> list[KycEvent]:
        """An officer asks for more information: the application leaves review and earlier approvals lapse."""
        if self.status is not KycStatus.PENDING:
            raise InvalidState(f"{self.party_id} has no application under review")
        level = self.requested_level
        self.status = KycStatus.APPROVED if self.level is not None else KycStatus.UNVERIFIED
        self.requested_level, self.approvals, self.reason = None, (), message
        return [self._event("kyc.information_requested", at, level=level, admin=admin_id)]

    def freeze(self, officer: str, reason: str, *, at: datetime) -> list[KycEvent]:
        """Hold every outgoing movement of the party until an officer unfreezes it (freezing twice is a conflict)."""
        if not reason.strip():
            raise InvalidInput("a freeze needs a reason for the record", field="reason")
        if self.frozen:
            raise Conflict(f"{self.party_id} is already frozen (since {self.frozen_at})")
        self.frozen_at, self.frozen_by, self.freeze_reason = at, officer, reason.strip()
        return [self._event("kyc.frozen", at, officer=officer, reason=self.freeze_reason)]

    def unfreeze(self, officer: str, *, at: datetime) -> list[KycEvent]:
        """Release a freeze; what was held may move again (an account that is not frozen is a conflict)."""
        if not self.frozen:
            raise Conflict(f"{self.party_id} is not frozen")
        since = self.frozen_at
        self.frozen_at, self.frozen_by, self.freeze_reason = None, None, None
        return [self._event("kyc.unfrozen", at, officer=officer, frozen_since=since)]

    def expire(self, *, at: datetime, policy: KycPolicy = DEFAULT_KYC_POLICY) -> list[KycEvent]:
        """Lapse the granted tier if its validity is over (nothing happens otherwise)."""
        if self.expires_at is None or at < self.expires_at:
            return []
        lapsed, self.level, self.expires_at = self.level, _fallback_level(self.kind, self.evidence, policy), None
        if self.status is KycStatus.APPROVED:
            self.status = KycStatus.EXPIRED
        return [self._event("kyc.expired", at, level=lapsed, now_level=self.level)]

    def tier_at(self, at: datetime, *, policy: KycPolicy = DEFAULT_KYC_POLICY) -> KycTier | None:
        """The tier in force at ``at`` (a lapsed approval counts as lapsed even before ``expire`` ran)."""
        return _tier_in_force(self.kind, self.level, self.expires_at, self.evidence, at, policy)

    def standing(self) -> KycStanding:
        """What the limits read of this profile (``KycStanding``)."""
        return KycStanding(
            party_id=self.party_id,
            kind=self.kind,
            level=self.level,
            expires_at=self.expires_at,
            evidence=self.evidence,
            frozen=self.frozen,
        )

    def _pending_tier(self, policy: KycPolicy) -> KycTier:
        if self.status is not KycStatus.PENDING or self.requested_level is None:
            raise InvalidState(f"{self.party_id} has no application under review")
        return policy.tier(self.kind, self.requested_level)

    def _grant(self, tier: KycTier, at: datetime) -> list[KycEvent]:
        self.status, self.level, self.requested_level = KycStatus.APPROVED, tier.level, None
        self.expires_at = None if tier.validity is None else at + tier.validity
        return [self._event("kyc.approved", at, level=tier.level, approvals=len(self.approvals))]


@attrs.frozen(kw_only=True)
class KycStanding:
    """A party's standing for limits: what the limit checks (``cryptopay.core.kyc.limits``) read of its KYC profile,
    and nothing of its application or the officers' notes. The tier in force is computed as the profile computes it
    (``tier_at``: the granted ``level`` until ``expires_at``, then what the ``evidence`` holds without review), and
    ``frozen`` is whether compliance froze the party. A profile gives it (``KycProfile.standing``); an adapter may
    read it without the whole profile (the P2P send reads both parties' from columns).

    >>> from datetime import timezone
    >>> now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    >>> amina = KycStanding(party_id="usr_1", kind=PartyKind.PERSONAL, level=1, expires_at=now,
    ...                     evidence=frozenset({Requirement.PHONE, Requirement.NATIONAL_ID}), frozen=False)
    >>> amina.tier_at(now).label  # the approval lapsed: back to what a verified phone holds
    'tier 0 (phone verified)'
    """

    party_id: str
    kind: PartyKind
    level: int | None
    expires_at: datetime | None
    evidence: frozenset[Requirement] = attrs.field(converter=_requirements)
    frozen: bool

    def tier_at(self, at: datetime, *, policy: KycPolicy = DEFAULT_KYC_POLICY) -> KycTier | None:
        """The tier in force at ``at``, as ``KycProfile.tier_at`` finds it."""
        return _tier_in_force(self.kind, self.level, self.expires_at, self.evidence, at, policy)


def _tier_in_force(
    kind: PartyKind,
    level: int | None,
    expires_at: datetime | None,
    evidence: frozenset[Requirement],
    at: datetime,
    policy: KycPolicy,
) -> KycTier | None:
    """The tier a party holds at ``at``: its granted ``level``, or once that lapsed (``expires_at``) the highest tier
    needing no review that its ``evidence`` covers."""
    if expires_at is not None and at >= expires_at:
        level = _fallback_level(kind, evidence, policy)
    return None if level is None else policy.tier(kind, level)


def _fallback_level(kind: PartyKind, evidence: frozenset[Requirement], policy: KycPolicy) -> int | None:
    kept = [t.level for t in policy.for_kind(kind) if t.validity is None and t.requirements <= evidence]
    return max(kept, default=None)
