"""Identity ports: users, refresh-token families, merchants, API keys, idempotency records, passwords, rate limits.

Every repository method is atomic on its own. Listings are keyset-paginated: merchants by id ascending, strictly
after ``after``; a merchant's API keys newest first, strictly before ``before``. The methods that settle races
(``RefreshTokenRepository.mark_rotated`` and ``IdempotencyRepository.begin``) must be compare-and-set on SQL
(``UPDATE ... WHERE rotated_at IS NULL`` and ``INSERT ... ON CONFLICT DO NOTHING``), so two concurrent requests can
never both win.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from cryptopay.core.audit import AuditEvent, AuditRecord
from cryptopay.core.ports.storage import UnitOfWork

if TYPE_CHECKING:
    from cryptopay.core.identity.teams import Invitation, InviteCap, Member, TeamCaps
from cryptopay.core.identity.model import (
    ApiKey,
    IdempotencyEntry,
    Merchant,
    RateDecision,
    RefreshToken,
    StoredResponse,
    User,
)

__all__ = [
    "ApiKeyRepository",
    "AuditTrail",
    "ChangeEpoch",
    "IdempotencyRepository",
    "MerchantRepository",
    "PasswordHasher",
    "RateLimiter",
    "RefreshTokenRepository",
    "TeamRepository",
    "TeamUnitOfWork",
    "TeamUowFactory",
    "TotpEngine",
    "UserRepository",
]


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Store a new user; ``Conflict`` if the (lower-cased) email is taken."""
        ...

    def get(self, user_id: str) -> User | None: ...

    def by_email(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively."""
        ...

    def by_phone(self, phone: str) -> User | None:
        """The user with this verified phone (wire form ``2547…``)."""
        ...

    def update(self, user: User) -> None:
        """Write ``user`` over the stored row if nobody changed it since it was read (its ``row_version``), and
        bump ``user.row_version``; ``AccountChanged`` (a ``Conflict``) if another write came first: read it again
        and decide again (review11 R11-1). ``NotFound`` if the user does not exist."""
        ...


class RefreshTokenRepository(Protocol):
    def add(self, token: RefreshToken) -> None: ...

    def by_hash(self, token_hash: str) -> RefreshToken | None: ...

    def mark_rotated(self, token_id: str, *, at: datetime) -> bool:
        """Set ``rotated_at`` if the token is neither rotated nor revoked; False if another request won."""
        ...

    def revoke_family(self, family_id: str, *, at: datetime) -> int:
        """Revoke every unrevoked token of a login family; returns how many were revoked."""
        ...

    def revoke_user(self, user_id: str, *, at: datetime) -> int:
        """Revoke every unrevoked token of every login of a user (password reset, role change)."""
        ...

    def family_active(self, family_id: str) -> bool:
        """True while some token of the family is unrevoked (one indexed read: the per-request session check)."""
        ...

    def for_user(self, user_id: str) -> list[RefreshToken]:
        """Every token of every login of a user, oldest first (a data subject's export, retention purges)."""
        ...


class MerchantRepository(Protocol):
    def add(self, merchant: Merchant) -> None:
        """Store a new merchant; ``Conflict`` if its owner already has one."""
        ...

    def get(self, merchant_id: str) -> Merchant | None: ...

    def by_owner(self, user_id: str) -> Merchant | None: ...

    def update(self, merchant: Merchant) -> None:
        """Write ``merchant`` over the stored row if nobody changed it since it was read (its ``row_version``), and
        bump ``merchant.row_version``; ``MerchantChanged`` (a ``Conflict``) if another write came first: read it
        again and decide again (review11 R11-3: an owner's rename in flight must not undo an operator's close).
        ``NotFound`` if the merchant does not exist."""
        ...

    def list(self, *, after: str | None, limit: int) -> list[Merchant]: ...


class TeamRepository(Protocol):
    """Merchant team members (a user in at most one team) and invitations (found by their token's hash)."""

    def add_member(self, member: Member) -> None:
        """``Conflict`` if the user is a member of a team already."""
        ...

    def member(self, merchant_id: str, user_id: str) -> Member | None: ...

    def membership(self, user_id: str) -> Member | None:
        """The user's one team membership, if any."""
        ...

    def members(self, merchant_id: str) -> list[Member]:
        """The merchant's members by when they joined (then user id)."""
        ...

    def update_member(self, member: Member) -> None: ...

    def remove_member(self, merchant_id: str, user_id: str) -> None: ...

    def add_invitation(self, invitation: Invitation) -> None: ...

    def invitation(self, invitation_id: str) -> Invitation | None: ...

    def invitation_by_hash(self, token_hash: str) -> Invitation | None: ...

    def invitations(self, merchant_id: str) -> list[Invitation]:
        """The merchant's invitations, newest first."""
        ...

    def invitations_to(self, email: str, *, since: datetime) -> int:
        """How many invitations every team made to ``email`` (normalised) since ``since``, revoked ones included."""
        ...

    def add_invitation_within(
        self, invitation: Invitation, *, per_address: int, since: datetime, team: TeamCaps | None = None
    ) -> InviteCap | None:
        """Store ``invitation`` (None) unless it would pass a cap (the cap, nothing stored): with ``team``, an open
        invitation of its team to its address already (``ADDRESS_OPEN``), ``team.open`` open invitations of its team
        (``TEAM_OPEN``), ``team.per_day`` made by its team since ``since`` (``TEAM_DAY``); then ``per_address``
        made to its address by every team together since ``since`` (``ADDRESS_DAY``). Counted and stored under a
        lock on the team, then one on the address, always in that order (PostgreSQL: advisory locks until the
        transaction ends), so invitations racing from one team's managers or from several teams never pass a cap."""
        ...

    def update_invitation(self, invitation: Invitation) -> None:
        """Write ``invitation`` over the stored row if nobody changed it since it was read (its ``row_version``,
        which ``claim_invitation`` bumps too), and bump it; ``InvitationChanged`` (a ``Conflict``) if another write
        came first, and nothing is written (review11 R11-3). ``NotFound`` if there is no such invitation."""
        ...

    def claim_invitation(self, invitation_id: str, user_id: str, *, at: datetime) -> bool:
        """Mark an open invitation accepted by ``user_id`` (bumping its ``row_version``); False if it was accepted or
        revoked meanwhile (atomic)."""
        ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def update(self, key: ApiKey) -> None: ...

    def for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[ApiKey]:
        """The merchant's keys, revoked ones included, newest first (by id), strictly older than ``before``."""
        ...

    def created_by(self, merchant_id: str, user_id: str) -> list[ApiKey]:
        """The merchant's keys that ``user_id`` created and that are not revoked, oldest first (by id)."""
        ...


class IdempotencyRepository(Protocol):
    def begin(self, scope: str, key: str, *, request_hash: str, at: datetime) -> IdempotencyEntry | None:
        """Claim ``(scope, key)`` for a request: None if claimed now, else the entry that already holds it."""
        ...

    def complete(self, scope: str, key: str, response: StoredResponse, *, claimed_at: datetime | None = None) -> bool:
        """Record the response of a claimed key, to be replayed to retries. With ``claimed_at``, only while the key
        is still the in-flight claim made then (one compare-and-set: never a retry's claim); whether it recorded."""
        ...

    def release(self, scope: str, key: str) -> None:
        """Forget an in-flight claim whose request failed unexpectedly, so that a retry may run it again."""
        ...

    def renew(self, scope: str, key: str, *, claimed_at: datetime, at: datetime) -> bool:
        """Move the in-flight claim made at ``claimed_at`` to ``at`` (keeping it fresh); False if it is no longer
        that claim (taken over by a retry, completed or released)."""
        ...


class PasswordHasher(Protocol):
    """A slow, salted password hash (argon2id in production)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True if the password matches; False (never an exception) if it does not or the hash is malformed."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class RateLimiter(Protocol):
    def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        """Count one request under ``key`` in the current fixed window and say whether it is allowed."""
        ...

    def take_back(self, key: str, *, window_seconds: int) -> None:
        """Uncount one hit under ``key`` in the current window (never below nothing): an attempt that turned out not
        to count, e.g. a password check that passed when only failures count."""
        ...

    def clear(self, key: str, *, window_seconds: int) -> None:
        """Forget every hit under ``key`` in the current window (e.g. the failures before an owner's login)."""
        ...


class AuditTrail(Protocol):
    """The hash-chained audit log outside a unit of work: each append is its own committed transaction."""

    def append(self, event: AuditEvent) -> AuditRecord: ...


class TeamUnitOfWork(UnitOfWork, Protocol):
    """One transaction over a team's rows and its users' (an invitation accepted: claimed, joined, audited, the email
    proven, all or nothing)."""

    @property
    def teams(self) -> TeamRepository: ...

    @property
    def users(self) -> UserRepository: ...


class TeamUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[TeamUnitOfWork]: ...


class TotpEngine(Protocol):
    """RFC 6238 time-based one-time passwords (30-second steps, 6 digits, SHA-1: what authenticator apps use)."""

    def new_secret(self) -> str:
        """A fresh random base32 secret."""
        ...

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        """The ``otpauth://`` URI an authenticator app scans (as a QR code) to enrol."""
        ...

    def matching_step(self, secret: str, code: str, *, at: datetime) -> int | None:
        """The time step of ``code`` if it is valid at ``at`` (one step of clock drift either side); else None."""
        ...


class ChangeEpoch(Protocol):
    """A counter shared by every API process (Redis): bumped on each identity change, so per-process caches of
    sessions and credentials can tell at once that what they hold may be stale."""

    def current(self) -> int | None:
        """The counter; None when it cannot be read (then nothing may be served from a cache)."""
        ...

    def bump(self) -> None: ...
