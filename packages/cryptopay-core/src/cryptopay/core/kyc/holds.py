"""A party a sanctions list names, held at once (review14 R14-7): the compliance freeze, put on by the screening.

When a newly imported list names a party already onboarded (``Monitoring.rescreen``: a match at the screening's
threshold, ``CRYPTOPAY_SANCTIONS_THRESHOLD``), the alert is blocking and the party is frozen as an officer's freeze
freezes it (``KycProfile.freeze``): every outgoing movement is held (sells, sends, withdrawals, bill payments; a
merchant's settlements and payouts), the customer told only that the movement is unavailable now, never why (no
tipping-off). The freeze is the screening's (``frozen_by`` ``SCREENING``) and its reason names the alerts holding it
(``listed_alerts``); a second match while it holds adds its alert. Audited ``kyc.frozen`` (actor
``system:screening``, the alert) or ``compliance.sanctions_hold`` (an alert added), both withheld from the party's
data export.

It holds until an officer clears the alerts: closing their case with no action (``Monitoring.move``, a false
positive) takes them off the freeze, and the last one off lifts it (``kyc.unfrozen``, by that officer, the alerts
cleared; ``compliance.sanctions_hold_released`` while others still hold it). A case escalated or reported (a true
match) leaves the freeze on: only an officer's ``kyc unfreeze`` lifts it then. A party an officer froze already is
left as it is (the alert stays open for the officers). Each step is one transaction of its own, after the alert's or
the case's (on SQLite a second transaction in one thread waits for the first); a hold lost between the two is put on
again by the next rescreen while its alert is open in no case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.kyc.profile import KycEvent, KycProfile
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.kyc import KycUnitOfWork
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator

__all__ = ["SCREENING", "SanctionsHolds", "listed_alerts"]

SCREENING = "system:screening"  # who froze a party a sanctions list names (``KycProfile.frozen_by``)
_REASON = "sanctions list match, alerts:"


def listed_alerts(profile: KycProfile) -> list[str]:
    """The alerts a screening's freeze of ``profile`` holds it on (none when the screening did not freeze it).

    >>> from datetime import datetime, timezone
    >>> from cryptopay.core.kyc.tiers import PartyKind
    >>> held = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
    >>> _ = held.freeze(SCREENING, _reason(["alr_1", "alr_2"]), at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> listed_alerts(held)
    ['alr_1', 'alr_2']
    """
    if not profile.frozen or profile.frozen_by != SCREENING or profile.freeze_reason is None:
        return []
    return profile.freeze_reason.removeprefix(_REASON).split()


def _reason(alert_ids: Sequence[str]) -> str:
    return f"{_REASON} {' '.join(alert_ids)}"


@attrs.define(kw_only=True)
class SanctionsHolds:
    """The screening's freezes (``Monitoring.holds``): ``hold`` a party a blocking alert names, ``release`` it
    once an officer cleared the alerts."""

    uow: Callable[[], AbstractContextManager[KycUnitOfWork]]
    clock: Clock
    ids: IdGenerator

    def hold(self, party_id: str, alert_id: str) -> bool:
        """Freeze ``party_id`` on the blocking alert ``alert_id`` (added to the screening's freeze already on);
        False when nothing changed (held on it already, or frozen by an officer)."""
        now = self.clock.now()

        def work(uow: KycUnitOfWork) -> bool:
            profile = uow.kyc.get(party_id)
            if profile is None:
                applications = uow.kyc_applications.for_party(party_id)
                if not applications:
                    return False  # nobody onboarded: nothing of theirs to hold
                profile = KycProfile(party_id=party_id, kind=applications[-1].kind)
                uow.kyc.add(profile)
            held = listed_alerts(profile)
            if alert_id in held or (profile.frozen and not held):
                return False
            if held:
                profile.freeze_reason = _reason([*held, alert_id])
                uow.kyc.update(profile)
                uow.audit.append(
                    AuditEvent(SCREENING, "compliance.sanctions_hold", f"kyc:{party_id}", now, {"alert": alert_id})
                )
                return True
            events = profile.freeze(SCREENING, _reason([alert_id]), at=now)
            uow.kyc.update(profile)
            self._record(uow, SCREENING, events, alert=alert_id)
            return True

        return in_transaction(self.uow, work)

    def holding(self, party_id: str, alert_ids: Sequence[str]) -> bool:
        """Whether the screening's freeze of ``party_id`` is held on any of ``alert_ids`` (closing their case would
        lift it, or part of it)."""

        def work(uow: KycUnitOfWork) -> bool:
            profile = uow.kyc.get(party_id)
            return profile is not None and any(a in alert_ids for a in listed_alerts(profile))

        return in_transaction(self.uow, work)

    def release(self, officer: str, party_id: str, alert_ids: Sequence[str]) -> bool:
        """Take the alerts ``officer`` cleared off the screening's freeze of ``party_id``, lifting it when none is
        left; True when it was lifted. A freeze an officer put on is never lifted here."""
        now = self.clock.now()

        def work(uow: KycUnitOfWork) -> bool:
            profile = uow.kyc.get(party_id)
            held = [] if profile is None else listed_alerts(profile)
            cleared = [a for a in held if a in alert_ids]
            if profile is None or not cleared:
                return False
            left = [a for a in held if a not in cleared]
            if left:
                profile.freeze_reason = _reason(left)
                uow.kyc.update(profile)
                details = {"alerts": ",".join(cleared), "still_held_on": ",".join(left)}
                uow.audit.append(
                    AuditEvent(f"user:{officer}", "compliance.sanctions_hold_released", f"kyc:{party_id}", now, details)
                )
                return False
            events = profile.unfreeze(officer, at=now)
            uow.kyc.update(profile)
            self._record(uow, f"user:{officer}", events, alerts=",".join(cleared))
            return True

        return in_transaction(self.uow, work)

    def _record(self, uow: KycUnitOfWork, actor: str, events: list[KycEvent], **details: str) -> None:
        for event in events:
            facts = {k: str(v) for k, v in event.data.items()} | details
            uow.audit.append(AuditEvent(actor, event.name, f"kyc:{event.party_id}", event.at, facts))
            data = {"party_id": event.party_id, **event.data}
            uow.outbox.add(OutboxMessage.new(self.ids.new_id("out"), event.name, data, at=event.at))
