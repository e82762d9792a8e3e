"""Four-eyes: the one check every approval of a proposed decision makes (review10 R10-8).

A decision that moves held or doubtful money (held payments, sends, deposits and remittances, paybill credits and
returns, payout conclusions, tier-2 KYC and KYB) is proposed by one officer and approved by another. Two accounts do
not prove two people: whoever makes staff accounts could make two. So an approval is refused when:

1. the approver proposed it (``SameOfficer``, 409 ``same_officer``);
2. the two officers are related by their appointments (``RelatedOfficers``, 409 ``related_officers``): both were
   made staff (created as an admin, or last given a staff role: ``User.appointed_by``) by the same person, or one of
   them made the other staff, directly or through the accounts that made it staff (A made B, B made C: A and C are
   related). A person is named as the audit trail names them: ``ops:<OS login>`` from the shell, ``user:<id>`` on the
   console;
3. the approver was made staff less than ``cool_off`` ago (``OfficerCoolingOff``, 409 ``officer_cooling_off``;
   ``CRYPTOPAY_OFFICER_COOL_OFF_HOURS``, 24 by default): a new officer's appointment is in the audit trail a day
   before it can approve anything, for the other staff to see.

An account with no appointment on file (made staff before revision 0278 and without an appointment in the audit
trail, or a test's account) is related to nobody through its appointer and has no cool-off. Unwired (``users``
None: a use case built without the accounts), only the first rule applies.

Each use case audits the refusal as ``<its prefix>_<code>_refused`` (``FourEyesRefused.action``) in a transaction
of its own, with ``audit_details``; nothing else changes.

>>> from datetime import datetime, timedelta, timezone
>>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> staff = {
...     "ann": Appointment("ops:root", at), "bob": Appointment("ops:root", at),
...     "cat": Appointment("ops:cat", at), "dan": Appointment("user:cat", at),
... }
>>> eyes = FourEyes(appointments=staff.get, cool_off=timedelta(hours=24))
>>> later = at + timedelta(days=2)
>>> [type(eyes.refusal(p, a, now=later, what="release")).__name__ for p, a in
...     [("ann", "ann"), ("ann", "bob"), ("ann", "cat"), ("cat", "dan"), ("ann", "dan")]]
['SameOfficer', 'RelatedOfficers', 'NoneType', 'RelatedOfficers', 'NoneType']
>>> type(eyes.refusal("ann", "cat", now=at + timedelta(hours=23), what="release")).__name__
'OfficerCoolingOff'
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
from cryptopay.core.errors import Conflict
from cryptopay.core.identity.model import Appointment, User

__all__ = [
    "DEFAULT_COOL_OFF",
    "Appointment",
    "FourEyes",
    "FourEyesRefused",
    "OfficerCoolingOff",
    "RelatedOfficers",
    "SameOfficer",
]

DEFAULT_COOL_OFF = timedelta(hours=24)
_DEPTH = 32  # appointments followed back at most (a cycle, a demotion and a promotion back, stops earlier)


class FourEyesRefused(Conflict):
    """An approval four-eyes refuses; ``action(prefix)`` is its audit record's action, ``audit_details`` its facts."""

    code = "four_eyes_refused"

    def __init__(self, message: str, *, audit_details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.audit_details = audit_details or {}

    def action(self, prefix: str) -> str:
        """``wallet.deposit`` -> ``wallet.deposit_related_officers_refused``."""
        return f"{prefix}_{self.code}_refused"


class SameOfficer(FourEyesRefused):
    """The officer who proposed a decision cannot approve it too."""

    code = "same_officer"


class RelatedOfficers(FourEyesRefused):
    """The approver and the proposer were made staff by the same person, or one made the other: one person could
    hold both accounts, so an officer appointed by someone else approves."""

    code = "related_officers"


class OfficerCoolingOff(FourEyesRefused):
    """The approver was made staff less than the cool-off ago: it approves once its appointment is that old."""

    code = "officer_cooling_off"


@attrs.frozen
class FourEyes:
    """The approval check; ``appointments``: an officer's user id -> its appointment (None: none on file)."""

    appointments: Callable[[str], Appointment | None] | None = None
    cool_off: timedelta = DEFAULT_COOL_OFF

    @classmethod
    def over(cls, users: Callable[[str], User | None], cool_off: timedelta = DEFAULT_COOL_OFF) -> FourEyes:
        """The check over the accounts (``UserRepository.get``): each officer's ``User.appointment``."""

        def appointment(user_id: str) -> Appointment | None:
            user = users(user_id)
            return user.appointment if user is not None else None

        return cls(appointments=appointment, cool_off=cool_off)

    def refusal(self, proposer: str, approver: str, *, now: datetime, what: str) -> FourEyesRefused | None:
        """Why ``approver`` may not approve what ``proposer`` proposed (``what``: the decision's noun), or None.
        Either may be a bare user id or ``user:<id>``."""
        proposer, approver = _user_id(proposer), _user_id(approver)
        if proposer == approver:
            return SameOfficer(f"you proposed this {what}: a second officer approves it")
        if self.appointments is None:
            return None
        mine, theirs = self._lineage(approver), self._lineage(proposer)
        if mine and theirs and mine[0].by == theirs[0].by:
            return RelatedOfficers(
                f"you and the officer who proposed this {what} were both made staff by {mine[0].by}: an officer "
                "made staff by someone else approves it",
                audit_details={"proposed_by": proposer, "appointed_by": mine[0].by},
            )
        if f"user:{approver}" in {a.by for a in theirs} or f"user:{proposer}" in {a.by for a in mine}:
            return RelatedOfficers(
                f"one of you made the other staff (the officer who proposed this {what} and you): an officer made "
                "staff by someone else approves it",
                audit_details={"proposed_by": proposer},
            )
        if mine and now - mine[0].at < self.cool_off:
            until = mine[0].at + self.cool_off
            return OfficerCoolingOff(
                f"you were made staff at {mine[0].at.isoformat()}: you approve decisions from {until.isoformat()} "
                f"(a new officer waits {_hours(self.cool_off)})",
                audit_details={"appointed_at": mine[0].at.isoformat(), "appointed_by": mine[0].by},
            )
        return None

    def _lineage(self, user_id: str) -> list[Appointment]:
        """The account's appointment, then its appointer's, and so on while an account made the appointment."""
        assert self.appointments is not None
        chain: list[Appointment] = []
        seen = {user_id}
        current: str | None = user_id
        while current is not None and len(chain) < _DEPTH:
            found = self.appointments(current)
            if found is None:
                break
            chain.append(found)
            current = found.by.removeprefix("user:") if found.by.startswith("user:") else None
            if current in seen:
                break
            seen.add(current or "")
        return chain


def _user_id(who: str) -> str:
    return who.removeprefix("user:")


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hours"
