"""In-memory identity repositories and idempotency store: thread-safe, for tests and embedding.

They are the reference behaviour for the SQL implementations (see ``cryptopay.core.ports.identity``). The rate
limiter has no fake: tests use the in-process adapter (``cryptopay.adapters.ratelimit.ProcessRateLimiter``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import secrets
import struct
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import attrs
from cryptopay.core.errors import Conflict, NotFound, RowChanged
from cryptopay.core.identity.model import (
    AccountChanged,
    ApiKey,
    IdempotencyEntry,
    Merchant,
    MerchantChanged,
    RefreshToken,
    Role,
    StoredResponse,
    User,
)
from cryptopay.core.identity.teams import Invitation, InvitationChanged, InviteCap, Member, TeamCaps, Teams
from cryptopay.core.ports.identity import PasswordHasher
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.system import ManualClock, SequentialIds

__all__ = [
    "FastPasswordHasher",
    "InMemoryApiKeys",
    "InMemoryIdempotency",
    "InMemoryMerchants",
    "InMemoryRefreshTokens",
    "InMemoryTeams",
    "InMemoryUsers",
    "StdlibTotp",
    "TeamFixture",
    "team_fixture",
]

_T = TypeVar("_T")


def _page(items: dict[str, _T], after: str | None, limit: int) -> list[_T]:
    return [items[k] for k in sorted(items) if after is None or k > after][:limit]


def _copy(item: _T) -> _T:
    # Return copies so callers mutate their own object and must call update(), as with a database.
    return copy.copy(item)


class _Versioned(Protocol):
    id: str
    row_version: int


_V = TypeVar("_V", bound=_Versioned)


def _update_versioned(rows: dict[str, _V], row: _V, *, kind: str, changed: Callable[[str], RowChanged]) -> None:
    """Write ``row`` over its stored copy only if it was read at the stored ``row_version``, and bump it (the SQL
    ``UPDATE ... WHERE row_version = :read``); ``changed(row.id)`` is raised otherwise (call under the lock)."""
    stored = rows.get(row.id)
    if stored is None:
        raise NotFound(f"{kind} {row.id} does not exist")
    if stored.row_version != row.row_version:
        raise changed(row.id)
    row.row_version += 1
    rows[row.id] = _copy(row)


class InMemoryUsers:
    def __init__(self) -> None:
        self._rows: dict[str, User] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, object]) -> InMemoryUsers:
        """A copy with its own lock (``InMemoryStorage`` snapshots its repositories this way)."""
        copied = InMemoryUsers()
        copied._rows = {k: _copy(v) for k, v in self._rows.items()}
        return copied

    def add(self, user: User) -> None:
        with self._lock:
            if user.email is not None and self.by_email(user.email) is not None:
                raise Conflict("an account with this email already exists", field="email")
            if user.phone is not None and self.by_phone(user.phone) is not None:
                raise Conflict("an account with this phone number already exists", field="phone")
            self._rows[user.id] = _copy(user)

    def get(self, user_id: str) -> User | None:
        row = self._rows.get(user_id)
        return _copy(row) if row else None

    def by_email(self, email: str) -> User | None:
        found = (u for u in self._rows.values() if u.email is not None and u.email.lower() == email.lower())
        return next((_copy(u) for u in found), None)

    def by_phone(self, phone: str) -> User | None:
        return next((_copy(u) for u in self._rows.values() if u.phone is not None and u.phone == phone), None)

    def update(self, user: User) -> None:
        with self._lock:
            _update_versioned(self._rows, user, kind="user", changed=AccountChanged)


class InMemoryRefreshTokens:
    def __init__(self) -> None:
        self._rows: dict[str, RefreshToken] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> InMemoryRefreshTokens:
        """A copy of the rows (an ``InMemoryStorage`` snapshots its repositories to roll a unit of work back)."""
        copied = InMemoryRefreshTokens()
        copied._rows = copy.deepcopy(self._rows, memo)
        return copied

    def add(self, token: RefreshToken) -> None:
        with self._lock:
            self._rows[token.id] = _copy(token)

    def by_hash(self, token_hash: str) -> RefreshToken | None:
        return next((_copy(t) for t in self._rows.values() if t.token_hash == token_hash), None)

    def mark_rotated(self, token_id: str, *, at: datetime) -> bool:
        with self._lock:
            token = self._rows.get(token_id)
            if token is None or token.rotated_at is not None or token.revoked_at is not None:
                return False
            token.rotated_at = at
            return True

    def revoke_family(self, family_id: str, *, at: datetime) -> int:
        return self._revoke(lambda t: t.family_id == family_id, at)

    def revoke_user(self, user_id: str, *, at: datetime) -> int:
        return self._revoke(lambda t: t.user_id == user_id, at)

    def family_active(self, family_id: str) -> bool:
        return any(t.family_id == family_id and t.revoked_at is None for t in self._rows.values())

    def for_user(self, user_id: str) -> list[RefreshToken]:
        mine = [_copy(t) for t in self._rows.values() if t.user_id == user_id]
        return sorted(mine, key=lambda t: (t.created_at, t.id))

    def _revoke(self, chosen: Callable[[RefreshToken], bool], at: datetime) -> int:
        with self._lock:
            live = [t for t in self._rows.values() if chosen(t) and t.revoked_at is None]
            for token in live:
                token.revoked_at = at
            return len(live)


class InMemoryMerchants:
    def __init__(self) -> None:
        self._rows: dict[str, Merchant] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> InMemoryMerchants:
        """A copy of the rows (an ``InMemoryStorage`` snapshots its repositories to roll a unit of work back)."""
        copied = InMemoryMerchants()
        copied._rows = copy.deepcopy(self._rows, memo)
        return copied

    def add(self, merchant: Merchant) -> None:
        with self._lock:
            if any(m.owner_user_id == merchant.owner_user_id for m in self._rows.values()):
                raise Conflict("this user already has a merchant profile")
            self._rows[merchant.id] = _copy(merchant)

    def get(self, merchant_id: str) -> Merchant | None:
        row = self._rows.get(merchant_id)
        return _copy(row) if row else None

    def by_owner(self, user_id: str) -> Merchant | None:
        return next((_copy(m) for m in self._rows.values() if m.owner_user_id == user_id), None)

    def update(self, merchant: Merchant) -> None:
        with self._lock:
            _update_versioned(self._rows, merchant, kind="merchant", changed=MerchantChanged)

    def list(self, *, after: str | None, limit: int) -> list[Merchant]:
        return [_copy(m) for m in _page(self._rows, after, limit)]


class InMemoryTeams:
    """``TeamRepository`` in memory."""

    def __init__(self) -> None:
        self._members: dict[tuple[str, str], Member] = {}
        self._invitations: dict[str, Invitation] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> InMemoryTeams:
        """A copy of the rows (an ``InMemoryStorage`` snapshots its repositories to roll a unit of work back)."""
        copied = InMemoryTeams()
        copied._members = copy.deepcopy(self._members, memo)
        copied._invitations = copy.deepcopy(self._invitations, memo)
        return copied

    def add_member(self, member: Member) -> None:
        with self._lock:
            if any(m.user_id == member.user_id for m in self._members.values()):
                raise Conflict("this user is a member of a team already")
            self._members[(member.merchant_id, member.user_id)] = _copy(member)

    def member(self, merchant_id: str, user_id: str) -> Member | None:
        found = self._members.get((merchant_id, user_id))
        return _copy(found) if found else None

    def membership(self, user_id: str) -> Member | None:
        return next((_copy(m) for m in self._members.values() if m.user_id == user_id), None)

    def members(self, merchant_id: str) -> list[Member]:
        mine = [m for m in self._members.values() if m.merchant_id == merchant_id]
        return [_copy(m) for m in sorted(mine, key=lambda m: (m.added_at, m.user_id))]

    def update_member(self, member: Member) -> None:
        with self._lock:
            self._members[(member.merchant_id, member.user_id)] = _copy(member)

    def remove_member(self, merchant_id: str, user_id: str) -> None:
        with self._lock:
            self._members.pop((merchant_id, user_id), None)

    def add_invitation(self, invitation: Invitation) -> None:
        with self._lock:
            self._invitations[invitation.id] = _copy(invitation)

    def invitation(self, invitation_id: str) -> Invitation | None:
        found = self._invitations.get(invitation_id)
        return _copy(found) if found else None

    def invitation_by_hash(self, token_hash: str) -> Invitation | None:
        return next((_copy(i) for i in self._invitations.values() if i.token_hash == token_hash), None)

    def invitations(self, merchant_id: str) -> list[Invitation]:
        mine = [i for i in self._invitations.values() if i.merchant_id == merchant_id]
        return [_copy(i) for i in sorted(mine, key=lambda i: (i.created_at, i.id), reverse=True)]

    def invitations_to(self, email: str, *, since: datetime) -> int:
        return sum(1 for i in self._invitations.values() if i.email == email and i.created_at >= since)

    def add_invitation_within(
        self, invitation: Invitation, *, per_address: int, since: datetime, team: TeamCaps | None = None
    ) -> InviteCap | None:
        with self._lock:
            refused = _team_cap(self.invitations(invitation.merchant_id), invitation, team, since)
            if refused is not None:
                return refused
            if self.invitations_to(invitation.email, since=since) >= per_address:
                return InviteCap.ADDRESS_DAY
            self._invitations[invitation.id] = _copy(invitation)
            return None

    def update_invitation(self, invitation: Invitation) -> None:
        with self._lock:
            _update_versioned(self._invitations, invitation, kind="invitation", changed=InvitationChanged)

    def claim_invitation(self, invitation_id: str, user_id: str, *, at: datetime) -> bool:
        with self._lock:
            found = self._invitations.get(invitation_id)
            if found is None or found.accepted_at is not None or found.revoked_at is not None:
                return False
            found.accepted_at, found.accepted_by = at, user_id
            found.row_version += 1
            return True


def _team_cap(
    made: list[Invitation], invitation: Invitation, team: TeamCaps | None, since: datetime
) -> InviteCap | None:
    """The team cap ``invitation`` would pass, given its team's invitations ``made``."""
    if team is None:
        return None
    open_ = [i for i in made if i.open(invitation.created_at)]
    if any(i.email == invitation.email for i in open_):
        return InviteCap.ADDRESS_OPEN
    if len(open_) >= team.open:
        return InviteCap.TEAM_OPEN
    if sum(1 for i in made if i.created_at >= since) >= team.per_day:
        return InviteCap.TEAM_DAY
    return None


@attrs.frozen
class TeamFixture:
    """``Teams`` over in-memory stores with one merchant and its owner, and the parts a test inspects."""

    teams: Teams
    owner: User
    merchant: Merchant
    clock: ManualClock
    users: InMemoryUsers
    merchants: InMemoryMerchants
    audit: InMemoryAuditLog
    notifier: InMemoryNotifier
    hasher: PasswordHasher  # the one ``teams`` checks an accepting password with


def team_fixture() -> TeamFixture:
    """A merchant "Duka" owned by ``usr_owner`` (owner@duka.co.ke), on a manual clock, with its ``Teams``."""
    from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule

    clock = ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    users, merchants, audit, notifier = InMemoryUsers(), InMemoryMerchants(), InMemoryAuditLog(), InMemoryNotifier()
    owner = User("usr_owner", "owner@duka.co.ke", "x", Role.MERCHANT, clock.now())
    users.add(owner)
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    merchant = Merchant("mer_1", owner.id, "Duka", profile, clock.now(), clock.now())
    merchants.add(merchant)
    hasher = FastPasswordHasher()
    teams = Teams(
        teams=InMemoryTeams(),
        merchants=merchants,
        api_keys=InMemoryApiKeys(),
        users=users,
        notifier=notifier,
        audit=audit,
        clock=clock,
        ids=SequentialIds(),
        hasher=hasher,
    )
    return TeamFixture(teams, owner, merchant, clock, users, merchants, audit, notifier, hasher)


class InMemoryApiKeys:
    def __init__(self) -> None:
        self._rows: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def add(self, key: ApiKey) -> None:
        with self._lock:
            self._rows[key.id] = _copy(key)

    def get(self, key_id: str) -> ApiKey | None:
        row = self._rows.get(key_id)
        return _copy(row) if row else None

    def update(self, key: ApiKey) -> None:
        with self._lock:
            self._rows[key.id] = _copy(key)

    def for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[ApiKey]:
        mine = sorted((k for k in self._rows.values() if k.merchant_id == merchant_id), key=lambda k: k.id)
        return [_copy(k) for k in reversed(mine) if before is None or k.id < before][:limit]

    def created_by(self, merchant_id: str, user_id: str) -> list[ApiKey]:
        rows = self._rows.values()
        mine = (k for k in rows if k.merchant_id == merchant_id and k.created_by == user_id and k.revoked_at is None)
        return [_copy(k) for k in sorted(mine, key=lambda k: k.id)]


class InMemoryIdempotency:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], IdempotencyEntry] = {}
        self._lock = threading.Lock()

    def begin(self, scope: str, key: str, *, request_hash: str, at: datetime) -> IdempotencyEntry | None:
        with self._lock:
            existing = self._rows.get((scope, key))
            if existing is not None:
                return _copy(existing)
            self._rows[(scope, key)] = IdempotencyEntry(scope, key, request_hash, at)
            return None

    def complete(self, scope: str, key: str, response: StoredResponse, *, claimed_at: datetime | None = None) -> bool:
        with self._lock:
            entry = self._rows[(scope, key)]
            if claimed_at is not None and (entry.response is not None or entry.created_at != claimed_at):
                return False
            entry.response = response
            return True

    def release(self, scope: str, key: str) -> None:
        with self._lock:
            entry = self._rows.get((scope, key))
            if entry is not None and entry.response is None:
                del self._rows[(scope, key)]

    def renew(self, scope: str, key: str, *, claimed_at: datetime, at: datetime) -> bool:
        with self._lock:
            entry = self._rows.get((scope, key))
            if entry is None or entry.response is not None or entry.created_at != claimed_at:
                return False
            entry.created_at = at
            return True


class FastPasswordHasher:
    """A salted PBKDF2 hasher with few rounds: fast for tests of the core, far too weak for production."""

    def __init__(self, rounds: int = 1000) -> None:
        self._rounds = rounds

    def hash(self, password: str) -> str:
        salt = secrets.token_hex(8)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), self._rounds).hex()
        return f"pbkdf2${self._rounds}${salt}${digest}"

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            _, rounds, salt, digest = password_hash.split("$")
            computed = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(rounds)).hex()
        except ValueError:
            return False
        return hmac.compare_digest(computed, digest)

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"pbkdf2${self._rounds}$")


class StdlibTotp:
    """RFC 6238 with the standard library: the reference the pyotp adapter is held to by the contract tests.

    >>> from datetime import datetime, timezone
    >>> secret = base64.b32encode(b"12345678901234567890").decode()
    >>> StdlibTotp().code_at(secret, 59)  # RFC 6238 appendix B (SHA-1), last 6 digits
    '287082'
    """

    step_seconds = 30

    def new_secret(self) -> str:
        return base64.b32encode(secrets.token_bytes(20)).decode()

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        label = quote(f"{issuer}:{account}")
        return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"

    def code_at(self, secret: str, unix_seconds: int) -> str:
        """The 6-digit code for the step holding ``unix_seconds``."""
        return self._code(secret, unix_seconds // self.step_seconds)

    def matching_step(self, secret: str, code: str, *, at: datetime) -> int | None:
        step = int(at.timestamp()) // self.step_seconds
        for candidate in (step - 1, step, step + 1):
            if hmac.compare_digest(self._code(secret, candidate), code):
                return candidate
        return None

    def _code(self, secret: str, step: int) -> str:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
        digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
        offset = digest[-1] & 0x0F
        value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
        return f"{value % 1_000_000:06d}"
