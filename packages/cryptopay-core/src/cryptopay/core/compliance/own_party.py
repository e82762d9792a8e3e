"""No officer acts on a party they belong to (outside review R12): the one check every officer's use case makes.

A party an officer belongs to is their own user id and the merchant they own or whose team they are on
(``identity.teams.parties_of``, wired as ``parties_of``; unwired, only their own user id). Acting on one is refused
(``OwnParty``, 403 ``own_party``) and the refusal audited (``<scope>.own_party_refused``, the action and the party,
on the subject the caller names) in a transaction of its own; nothing else changes. KYC review (``kyc.review``),
compliance cases and STR reports (``compliance.monitoring``, ``compliance.reports``) and held merchant payments
(``payments.held``) all refuse through ``refuse_own_party``.

>>> mine = lambda officer: frozenset({officer, "mer_1"})
>>> owns("usr_1", "mer_2", mine), owns("usr_1", "mer_1", mine), owns("usr_1", "usr_1", None)
(False, True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Refused
from cryptopay.core.ports.storage import AuditLog, in_transaction

__all__ = ["OwnParty", "PartiesOf", "own_party_refusal", "owns", "refuse_own_party"]

PartiesOf = Callable[[str], frozenset[str]]  # an officer's user id -> the parties they belong to


class OwnParty(Refused):
    """The officer belongs to the party (it is their own account, or the merchant they own or are on the team of):
    nobody reviews, decides, freezes or reports on their own (outside review R12). Another officer acts."""

    code = "own_party"
    http_status = 403


class _Audited(Protocol):
    @property
    def audit(self) -> AuditLog: ...


U = TypeVar("U", bound=_Audited)


def owns(officer: str, party: str, parties_of: PartiesOf | None) -> bool:
    """Whether ``officer`` belongs to ``party`` (unwired ``parties_of``: only their own user id)."""
    return party in (parties_of(officer) if parties_of is not None else frozenset({officer}))


def refuse_own_party(
    uow: Callable[[], AbstractContextManager[U]],
    parties_of: PartiesOf | None,
    officer: str,
    party: str,
    *,
    scope: str,
    action: str,
    subject: str,
    at: datetime,
    details: Mapping[str, str] | None = None,
) -> None:
    """``OwnParty`` when ``officer`` belongs to ``party``, the refusal audited ``<scope>.own_party_refused`` on
    ``subject`` (with ``action`` and ``details``) in a transaction of its own; otherwise nothing."""
    refusal = own_party_refusal(
        parties_of, officer, party, scope=scope, action=action, subject=subject, at=at, details=details
    )
    if refusal is None:
        return
    event, error = refusal
    in_transaction(uow, lambda u: u.audit.append(event))
    raise error


def own_party_refusal(
    parties_of: PartiesOf | None,
    officer: str,
    party: str,
    *,
    scope: str,
    action: str,
    subject: str,
    at: datetime,
    details: Mapping[str, str] | None = None,
) -> tuple[AuditEvent, OwnParty] | None:
    """When ``officer`` belongs to ``party``: the refusal's audit record and the ``OwnParty`` to raise once it is
    committed (for a caller that found the party in a transaction of its own and commits the record in it, then
    raises); otherwise None."""
    if not owns(officer, party, parties_of):
        return None
    event = AuditEvent(
        f"user:{officer}", f"{scope}.own_party_refused", subject, at, {"action": action, **(details or {})}
    )
    return event, OwnParty(f"{party} is your own (you act for it): another officer acts on it", party_id=party)
