"""The merchant side of the limits: may this merchant's money leave now? (the rules are ``kyc.limits.check_payout``)

Settlement asks before it converts anything (``held``: frozen, or KYB not approved when the deployment requires it)
and again with the planned payout parts (``settlement``: the tier's single, daily and monthly limits); the payout
sender asks ``held`` before each send, so a freeze placed after a settlement still stops its payouts. The profile
is read in a short transaction of its own, never inside the caller's (on SQLite a second transaction in one thread
waits for the first): settlement reads it (``profile``) before its own transaction opens and hands it in; a
decision taken a moment before a freeze is caught at the send.

Merchants may *receive* payments whatever their verification; only money leaving is gated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

import attrs
from cryptopay.core.kyc.limits import Decision, check_payout
from cryptopay.core.kyc.profile import KycProfile
from cryptopay.core.kyc.tiers import DEFAULT_KYC_POLICY, KycPolicy
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.kyc import KycRepository, KycUnitOfWork
from cryptopay.core.ports.system import Clock

__all__ = ["PayoutGate", "frozen_among"]


def frozen_among(kyc: KycRepository, party_ids: Iterable[str]) -> set[str]:
    """The parties among ``party_ids`` that compliance froze, in one read of their profiles (in the caller's unit of
    work): what holds a party's payouts, refunds, withdrawals and the claims of its invitations."""
    wanted = sorted(set(party_ids))
    if not wanted:
        return set()
    return {party for party, profile in kyc.find(wanted).items() if profile.frozen}


class _Unread:
    """``PayoutGate.settlement`` was given no profile: it reads one."""


_UNREAD = _Unread()


@attrs.frozen(kw_only=True)
class PayoutGate:
    """``require_kyb``: a merchant's settlement waits for KYB approval (``CRYPTOPAY_SETTLEMENT_REQUIRES_KYB``)."""

    uow: Callable[[], AbstractContextManager[KycUnitOfWork]]
    clock: Clock
    require_kyb: bool = True
    policy: KycPolicy = DEFAULT_KYC_POLICY

    def held(self, merchant_id: str, *, at: datetime | None = None) -> Decision:
        """Whether anything may leave at all (frozen, KYB), before amounts are known."""
        return self.settlement(merchant_id, (), at=at)

    def held_many(self, merchant_ids: Sequence[str], *, at: datetime | None = None) -> dict[str, Decision]:
        """``held`` for a page of merchants, with one read of their profiles."""
        moment = at or self.clock.now()
        with self.uow() as uow:
            profiles = uow.kyc.find(merchant_ids)
        zero = Money.zero(KES)
        return {
            m: check_payout(
                profiles.get(m),
                (),
                paid_today=zero,
                paid_this_month=zero,
                at=moment,
                require_kyb=self.require_kyb,
                policy=self.policy,
            )
            for m in merchant_ids
        }

    def frozen(self, party_ids: Sequence[str]) -> set[str]:
        """The parties among ``party_ids`` that compliance froze, in one read of their profiles: what holds every
        outgoing movement of a party whatever its KYB (a refund to a payer, the claim of a wallet's invitation).

        A KYB not yet approved holds a merchant's settlement (``held``), never the return of a payer's coins."""
        with self.uow() as uow:
            return frozen_among(uow.kyc, party_ids)

    def settlement(
        self,
        merchant_id: str,
        parts: Sequence[Money],
        *,
        paid_today: Money | None = None,
        paid_this_month: Money | None = None,
        at: datetime | None = None,
        profile: KycProfile | _Unread | None = _UNREAD,
    ) -> Decision:
        """Whether these payout parts (KES) may be planned now; ``profile`` as read by ``profile()`` beforehand
        (left out: read now, in a transaction of its own)."""
        zero = Money.zero(KES)
        return check_payout(
            self.profile(merchant_id) if isinstance(profile, _Unread) else profile,
            parts,
            paid_today=paid_today or zero,
            paid_this_month=paid_this_month or zero,
            at=at or self.clock.now(),
            require_kyb=self.require_kyb,
            policy=self.policy,
        )

    def profile(self, party_id: str) -> KycProfile | None:
        """The party's KYC profile, read in a short transaction of its own (call it outside any other)."""
        with self.uow() as uow:
            return uow.kyc.get(party_id)
