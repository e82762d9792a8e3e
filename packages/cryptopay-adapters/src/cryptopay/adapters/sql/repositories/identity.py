"""Identity repositories on SQL: users, refresh tokens, merchants, API keys, idempotency records.

Each takes an ``Engine`` (every call is one short transaction: what the HTTP shell uses) or a unit of work's
``Connection``. The races are settled by the database: ``mark_rotated`` is ``UPDATE ... WHERE rotated_at IS
NULL AND revoked_at IS NULL`` and ``IdempotencyRepository.begin`` is ``INSERT ... ON CONFLICT DO NOTHING``.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> from cryptopay.adapters.sql import make_engine, upgrade
>>> from cryptopay.core.identity.model import Role, User
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> repos = sql_identity_repositories(make_engine(url))
>>> at = datetime(2026, 1, 5, tzinfo=timezone.utc)
>>> repos["users"].add(User("usr_1", "Ann@Example.com", "hash", Role.MERCHANT, at))
>>> repos["users"].by_email("ann@example.COM").id
'usr_1'
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from cryptopay.adapters.sql.personal import PersonalData
from cryptopay.adapters.sql.repositories._base import (
    Bind,
    DriverRead,
    advisory_locks,
    insert_new,
    reading,
    update_one,
    update_versioned,
    writing,
)
from cryptopay.adapters.sql.repositories.webhooks import SecretCipher
from cryptopay.adapters.sql.tables import CODE
from cryptopay.adapters.sql.tables_identity import (
    api_keys,
    idempotency_records,
    merchant_invitations,
    merchant_members,
    merchants,
    refresh_tokens,
    users,
)
from cryptopay.core.errors import Conflict, InvalidState, NotFound
from cryptopay.core.identity.model import (
    AccountChanged,
    ApiKey,
    IdempotencyEntry,
    Merchant,
    MerchantChanged,
    RefreshToken,
    Role,
    StoredResponse,
    TeamRole,
    User,
)
from cryptopay.core.identity.teams import Invitation, InvitationChanged, InviteCap, Member, TeamCaps
from cryptopay.core.money import Money
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

__all__ = [
    "SqlApiKeys",
    "SqlIdempotency",
    "SqlMerchants",
    "SqlRefreshTokens",
    "SqlTeams",
    "SqlUsers",
    "sql_identity_repositories",
]

T = TypeVar("T")


def _update(bind: Bind, table: sa.Table, key: Any, values: dict[str, Any], what: str) -> None:
    update_one(bind, table, table.c.id == key, values, missing=f"{what} {key} does not exist")


def _versioned_update(
    conn: sa.Connection, table: sa.Table, key: Any, version: int, values: dict[str, Any], what: str
) -> bool:
    """``update_versioned``: True if written, False if another write came first; ``NotFound`` if no such row."""
    if update_versioned(conn, table, key, version, values):
        return True
    if conn.execute(sa.select(table.c.id).where(table.c.id == key)).first() is None:
        raise NotFound(f"{what} {key} does not exist")
    return False


def _one(bind: Bind, query: sa.Select[Any], into: Callable[[Any], T]) -> T | None:
    with reading(bind) as conn:
        row = conn.execute(query).first()
    return into(row) if row else None


class SqlUsers:
    """``UserRepository``; emails are unique case-insensitively (a unique ``email_key`` = lower(email)).

    With a ``cipher`` (the key vault's), TOTP secrets are stored sealed (``v1:`` + base64 blob, bound to the user
    id), so a copy of the database does not give away anyone's second factor. With ``personal`` (see
    ``cryptopay.adapters.sql.personal``) the email, phone and display name are sealed, and ``email_key`` and
    ``phone`` hold keyed hashes (of the lower-cased email, of the phone) that lookups go through.
    """

    def __init__(self, bind: Bind, *, cipher: SecretCipher | None = None, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._cipher = cipher
        self._personal = personal or PersonalData.plaintext()

    def add(self, user: User) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, users, self._row(user)):
                if user.phone is not None and conn.execute(self._phone_taken(user)).first() is not None:
                    raise Conflict("an account with this phone number already exists", field="phone")
                raise Conflict("an account with this email already exists", field="email")

    def get(self, user_id: str) -> User | None:
        return _one(self._bind, sa.select(users).where(users.c.id == user_id), self._user)

    def by_email(self, email: str) -> User | None:
        key = self._personal.lookup(email.lower())
        return _one(self._bind, sa.select(users).where(users.c.email_key == key), self._user)

    def by_phone(self, phone: str) -> User | None:
        key = self._personal.lookup(phone)
        return _one(self._bind, sa.select(users).where(users.c.phone == key), self._user)

    def update(self, user: User) -> None:
        with writing(self._bind) as conn:
            if user.email is not None and conn.execute(self._email_taken(user)).first() is not None:
                raise Conflict("an account with this email already exists", field="email")
            if user.phone is not None and conn.execute(self._phone_taken(user)).first() is not None:
                raise Conflict("an account with this phone number already exists", field="phone")
            row = self._row(user) | {"row_version": user.row_version + 1}
            if not _versioned_update(conn, users, user.id, user.row_version, row, "user"):
                raise AccountChanged(user.id)
        user.row_version += 1

    def _row(self, user: User) -> dict[str, Any]:
        row = _user_row(user)
        if user.totp_secret is not None and self._cipher is not None:
            blob = self._cipher.encrypt(user.totp_secret.encode(), _totp_context(user.id))
            row["totp_secret"] = _SEALED + base64.b64encode(blob).decode()
        personal = self._personal
        if user.email is not None:
            row["email"] = personal.seal(user.email, context=f"users:{user.id}:email")
            row["email_key"] = personal.lookup(user.email.lower())
        if user.phone is not None:
            row["phone"] = personal.lookup(user.phone)
            row["phone_sealed"] = personal.seal(user.phone, context=f"users:{user.id}:phone")
        if user.display_name is not None:
            row["display_name"] = personal.seal(user.display_name, context=f"users:{user.id}:display_name")
        return row

    def _user(self, row: Any) -> User:
        user = _user(row, self._personal)
        stored = user.totp_secret
        if stored is not None and stored.startswith(_SEALED):
            if self._cipher is None:
                raise InvalidState(f"user {user.id}'s TOTP secret is sealed; this repository has no cipher")
            blob = base64.b64decode(stored.removeprefix(_SEALED))
            user.totp_secret = self._cipher.decrypt(blob, _totp_context(user.id)).decode()
        return user

    def _email_taken(self, user: User) -> sa.Select[Any]:
        key = self._personal.lookup((user.email or "").lower())
        return sa.select(users.c.id).where(users.c.email_key == key, users.c.id != user.id)

    def _phone_taken(self, user: User) -> sa.Select[Any]:
        key = self._personal.lookup(user.phone or "")
        return sa.select(users.c.id).where(users.c.phone == key, users.c.id != user.id)


_SEALED = "v1:"


def _totp_context(user_id: str) -> str:
    return f"totp-secret:{user_id}"


def _user_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_key": user.email.lower() if user.email is not None else None,
        "password_hash": user.password_hash,
        "role": user.role.value,
        "created_at": user.created_at,
        "display_name": user.display_name,
        "session_version": user.session_version,
        "totp_secret": user.totp_secret,
        "totp_confirmed_at": user.totp_confirmed_at,
        "totp_last_step": user.totp_last_step,
        "recovery_code_hashes": list(user.recovery_code_hashes),
        "phone": user.phone,
        "phone_sealed": None,
        "email_verified_at": user.email_verified_at,
        "email_token_hash": user.email_token_hash,
        "email_token_expires_at": user.email_token_expires_at,
        "disabled_at": user.disabled_at,
        "appointed_by": user.appointed_by,
        "appointed_at": user.appointed_at,
        "row_version": user.row_version,
    }


def _user(row: Any, personal: PersonalData) -> User:
    m = row._mapping
    uid = m["id"]

    def opened(name: str, value: str | None) -> str | None:
        return None if value is None else personal.open(value, context=f"users:{uid}:{name}")

    phone = m["phone_sealed"] if m["phone_sealed"] is not None else m["phone"]  # an unsealed row: the plain phone
    return User(
        uid,
        opened("email", m["email"]),
        m["password_hash"],
        Role(m["role"]),
        m["created_at"],
        opened("display_name", m["display_name"]),
        session_version=int(m["session_version"]),
        totp_secret=m["totp_secret"],
        totp_confirmed_at=m["totp_confirmed_at"],
        totp_last_step=int(m["totp_last_step"]),
        recovery_code_hashes=tuple(m["recovery_code_hashes"] or ()),
        phone=opened("phone", phone),
        email_verified_at=m["email_verified_at"],
        email_token_hash=m["email_token_hash"],
        email_token_expires_at=m["email_token_expires_at"],
        disabled_at=m["disabled_at"],
        appointed_by=m["appointed_by"],
        appointed_at=m["appointed_at"],
        row_version=m["row_version"],
    )


class SqlRefreshTokens:
    """``RefreshTokenRepository``; rotation and family revocation are single compare-and-set UPDATEs."""

    def __init__(self, bind: Bind) -> None:
        self._bind = bind

    def add(self, token: RefreshToken) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, refresh_tokens, _columns(token, refresh_tokens)):
                raise Conflict(f"refresh token {token.id} exists")

    def by_hash(self, token_hash: str) -> RefreshToken | None:
        query = sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        return _one(self._bind, query, lambda row: RefreshToken(**row._mapping))

    def mark_rotated(self, token_id: str, *, at: datetime) -> bool:
        live = (refresh_tokens.c.id == token_id, refresh_tokens.c.rotated_at.is_(None))
        statement = refresh_tokens.update().where(*live, refresh_tokens.c.revoked_at.is_(None)).values(rotated_at=at)
        with writing(self._bind) as conn:
            return bool(conn.execute(statement).rowcount == 1)

    def revoke_family(self, family_id: str, *, at: datetime) -> int:
        return self._revoke(refresh_tokens.c.family_id == family_id, at)

    def revoke_user(self, user_id: str, *, at: datetime) -> int:
        return self._revoke(refresh_tokens.c.user_id == user_id, at)

    def family_active(self, family_id: str) -> bool:
        live = (refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        return _one(self._bind, sa.select(refresh_tokens.c.id).where(*live).limit(1), lambda _: True) or False

    def for_user(self, user_id: str) -> list[RefreshToken]:
        c = refresh_tokens.c
        query = sa.select(refresh_tokens).where(c.user_id == user_id).order_by(c.created_at, c.id)
        with reading(self._bind) as conn:
            return [RefreshToken(**row._mapping) for row in conn.execute(query)]

    def _revoke(self, chosen: Any, at: datetime) -> int:
        live = (chosen, refresh_tokens.c.revoked_at.is_(None))
        with writing(self._bind) as conn:
            return int(conn.execute(refresh_tokens.update().where(*live).values(revoked_at=at)).rowcount)


def _columns(item: Any, table: sa.Table) -> dict[str, Any]:
    return {column.name: getattr(item, column.name) for column in table.columns}


class SqlMerchants:
    """``MerchantRepository``; one merchant per owner (unique ``owner_user_id``), listed by id (keyset). With
    ``personal`` the settlement destination (a phone, a bank account) is sealed at rest."""

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def add(self, merchant: Merchant) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, merchants, _merchant_row(merchant, self._personal)):
                raise Conflict("this user already has a merchant profile")

    def get(self, merchant_id: str) -> Merchant | None:
        return _one(self._bind, sa.select(merchants).where(merchants.c.id == merchant_id), self._merchant)

    def by_owner(self, user_id: str) -> Merchant | None:
        return _one(self._bind, sa.select(merchants).where(merchants.c.owner_user_id == user_id), self._merchant)

    def update(self, merchant: Merchant) -> None:
        row = _merchant_row(merchant, self._personal) | {"row_version": merchant.row_version + 1}
        with writing(self._bind) as conn:
            if not _versioned_update(conn, merchants, merchant.id, merchant.row_version, row, "merchant"):
                raise MerchantChanged(merchant.id)
        merchant.row_version += 1

    def list(self, *, after: str | None, limit: int) -> list[Merchant]:
        query = sa.select(merchants).order_by(merchants.c.id).limit(limit)
        if after is not None:
            query = query.where(merchants.c.id > after)
        with reading(self._bind) as conn:
            return [self._merchant(row) for row in conn.execute(query)]

    def _merchant(self, row: Any) -> Merchant:
        return _merchant(row, self._personal)


def _merchant_row(merchant: Merchant, personal: PersonalData) -> dict[str, Any]:
    profile, minimum = merchant.settlement, merchant.settlement.minimum
    destination = personal.seal(profile.destination, context=f"merchants:{merchant.id}:settlement_destination")
    return {
        "id": merchant.id,
        "owner_user_id": merchant.owner_user_id,
        "business_name": merchant.business_name,
        "settlement_schedule": profile.schedule.value,
        "settlement_method": profile.method.value,
        "settlement_destination": destination,
        "settlement_minimum": minimum.amount if minimum else None,
        "settlement_minimum_asset": minimum.asset.code if minimum else None,
        "created_at": merchant.created_at,
        "updated_at": merchant.updated_at,
        "destination_ready_at": merchant.destination_ready_at,
        "closed_at": merchant.closed_at,
    }


def _merchant(row: Any, personal: PersonalData) -> Merchant:
    m = row._mapping
    amount, asset = m["settlement_minimum"], m["settlement_minimum_asset"]
    destination = personal.open(m["settlement_destination"], context=f"merchants:{m['id']}:settlement_destination")
    profile = SettlementProfile(
        SettlementSchedule(m["settlement_schedule"]),
        SettlementMethod(m["settlement_method"]),
        destination,
        Money.of(amount, asset) if amount is not None else None,
    )
    return Merchant(
        m["id"],
        m["owner_user_id"],
        m["business_name"],
        profile,
        m["created_at"],
        m["updated_at"],
        m["destination_ready_at"],
        m["closed_at"],
        row_version=m["row_version"],
    )


class SqlApiKeys:
    """``ApiKeyRepository``; only the secret's hash is stored, scopes as a sorted JSON list."""

    def __init__(self, bind: Bind) -> None:
        self._bind = bind

    def add(self, key: ApiKey) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, api_keys, _key_row(key)):
                raise Conflict(f"API key {key.id} exists")

    def get(self, key_id: str) -> ApiKey | None:
        return _one(self._bind, sa.select(api_keys).where(api_keys.c.id == key_id), _key)

    def update(self, key: ApiKey) -> None:
        _update(self._bind, api_keys, key.id, _key_row(key), "API key")

    def for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[ApiKey]:
        query = sa.select(api_keys).where(api_keys.c.merchant_id == merchant_id)
        query = query.order_by(api_keys.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(api_keys.c.id < before)
        with reading(self._bind) as conn:
            return [_key(row) for row in conn.execute(query)]

    def created_by(self, merchant_id: str, user_id: str) -> list[ApiKey]:
        query = sa.select(api_keys).where(
            api_keys.c.merchant_id == merchant_id, api_keys.c.created_by == user_id, api_keys.c.revoked_at.is_(None)
        )
        with reading(self._bind) as conn:
            return [_key(row) for row in conn.execute(query.order_by(api_keys.c.id))]


def _key_row(key: ApiKey) -> dict[str, Any]:
    return _columns(key, api_keys) | {"scopes": sorted(key.scopes)}


def _key(row: Any) -> ApiKey:
    return ApiKey(**(dict(row._mapping) | {"scopes": frozenset(row.scopes)}))


class SqlIdempotency:
    """``IdempotencyRepository``: ``begin`` claims with ``INSERT ... ON CONFLICT DO NOTHING``.

    A claim left in flight longer than ``stale_after`` (its request's process died without ``release``) is taken
    over by the next ``begin``, with a compare-and-set UPDATE so only one retry wins it.

    Why 30 seconds: the claim is a commit fence (``cryptopay.core.fencing``), renewed in every commit of the
    request's work, so a request that was taken over can no longer commit anything; a short lease is therefore
    safe, and it spares a client whose API process crashed mid-request minutes of 409 ``idempotency_in_flight``
    (``make chaos`` found five minutes of them after each SIGKILL of the API).
    """

    def __init__(self, bind: Bind, *, stale_after: timedelta = timedelta(seconds=30)) -> None:
        self._bind = bind
        self._stale_after = stale_after

    def begin(self, scope: str, key: str, *, request_hash: str, at: datetime) -> IdempotencyEntry | None:
        scope = _stored_scope(scope)
        row = {"scope": scope, "key": key, "request_hash": request_hash, "created_at": at, "response": None}
        while True:
            with writing(self._bind) as conn:
                if insert_new(conn, idempotency_records, row) or self._reclaim(conn, row):
                    return None
                existing = conn.execute(sa.select(idempotency_records).where(*_where(scope, key))).first()
            if existing is not None:
                return _entry(existing)
            # Released between our INSERT and SELECT: claim again.

    def _reclaim(self, conn: Any, row: dict[str, Any]) -> bool:
        stale = (
            idempotency_records.c.response.is_(None),
            idempotency_records.c.created_at < row["created_at"] - self._stale_after,
        )
        values = {"request_hash": row["request_hash"], "created_at": row["created_at"]}
        statement = idempotency_records.update().where(*_where(row["scope"], row["key"]), *stale).values(**values)
        return bool(conn.execute(statement).rowcount == 1)

    def complete(self, scope: str, key: str, response: StoredResponse, *, claimed_at: datetime | None = None) -> bool:
        body = {
            "status": response.status,
            "body": response.body,
            "content_type": response.content_type,
            "headers": [list(pair) for pair in response.headers],
        }
        params = {"scope_": _stored_scope(scope), "key_": key, "new": body}
        with writing(self._bind) as conn:
            if claimed_at is None:
                return _set_claim("response", ours=False).first(conn, params) is not None
            return _set_claim("response", ours=True).first(conn, {**params, "claimed_at": claimed_at}) is not None

    def release(self, scope: str, key: str) -> None:
        in_flight = idempotency_records.c.response.is_(None)
        with writing(self._bind) as conn:
            conn.execute(idempotency_records.delete().where(*_where(_stored_scope(scope), key), in_flight))

    def renew(self, scope: str, key: str, *, claimed_at: datetime, at: datetime) -> bool:
        params = {"scope_": _stored_scope(scope), "key_": key, "claimed_at": claimed_at, "new": at}
        with writing(self._bind) as conn:
            return _set_claim("created_at", ours=True).first(conn, params) is not None

    def purge(self, *, before: datetime) -> int:
        """Delete completed records created before ``before`` (retries older than that are not replayed)."""
        old = (idempotency_records.c.created_at < before, idempotency_records.c.response.is_not(None))
        with writing(self._bind) as conn:
            return int(conn.execute(idempotency_records.delete().where(*old)).rowcount)


@functools.cache
def _set_claim(column: str, *, ours: bool) -> DriverRead:
    """``UPDATE`` the record ``scope_``, ``key_`` (with ``ours``: only while it is the in-flight claim made at
    ``claimed_at``) setting ``column`` to ``new``; a row back if it did. Built once: every keyed request renews and
    completes its claim (on PostgreSQL on the driver, ``DriverRead``)."""
    c = idempotency_records.c
    where = [c.scope == sa.bindparam("scope_"), c.key == sa.bindparam("key_")]
    if ours:
        where += [c.response.is_(None), c.created_at == sa.bindparam("claimed_at")]
    new = sa.bindparam("new", type_=c[column].type)
    return DriverRead(idempotency_records.update().where(*where).values({column: new}).returning(c.scope))


for _column, _ours in (("created_at", True), ("response", True), ("response", False)):
    _set_claim(_column, ours=_ours)  # built at import, so a worker's warm-up compiles them (``prepare_statements``)


_SCOPE_ROOM = CODE  # idempotency_records.scope's length


def _stored_scope(scope: str) -> str:
    """A scope as stored: one longer than the column by its SHA-256 (distinct scopes stay distinct; stored scopes
    are ``kind:id``, never ``sha256:...``), so a caller's long scope is never a database error."""
    if len(scope) <= _SCOPE_ROOM:
        return scope
    return "sha256:" + hashlib.sha256(scope.encode()).hexdigest()


def _where(scope: str, key: str) -> tuple[Any, ...]:
    return (idempotency_records.c.scope == scope, idempotency_records.c.key == key)


def _entry(row: Any) -> IdempotencyEntry:
    m, stored = row._mapping, row.response
    response = None
    if stored is not None:
        headers = tuple((str(k), str(v)) for k, v in stored["headers"])
        response = StoredResponse(stored["status"], stored["body"], stored["content_type"], headers)
    return IdempotencyEntry(m["scope"], m["key"], m["request_hash"], m["created_at"], response)


def sql_identity_repositories(
    bind: Bind, *, cipher: SecretCipher | None = None, personal: PersonalData | None = None
) -> dict[str, Any]:
    """The five identity repositories by the names the HTTP ``Services`` uses (``users``, ``refresh_tokens``, ...);
    ``cipher`` seals TOTP secrets and ``personal`` personal data (the composition root passes the key vault's)."""
    return {
        "users": SqlUsers(bind, cipher=cipher, personal=personal),
        "refresh_tokens": SqlRefreshTokens(bind),
        "merchants": SqlMerchants(bind, personal=personal),
        "api_keys": SqlApiKeys(bind),
        "idempotency": SqlIdempotency(bind),
        "teams": SqlTeams(bind, personal=personal),
    }


class SqlTeams:
    """``TeamRepository``: members (the user is the key: one team per user) and invitations by token hash. With
    ``personal`` an invitation's email is sealed at rest (invitations are found by token hash; counted per address
    by its keyed hash, ``email_lookup``, never by the email)."""

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def add_member(self, member: Member) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, merchant_members, _member_row(member)):
                raise Conflict("this user is a member of a team already")

    def member(self, merchant_id: str, user_id: str) -> Member | None:
        m = merchant_members.c
        query = sa.select(merchant_members).where(m.merchant_id == merchant_id, m.user_id == user_id)
        return _one(self._bind, query, _member)

    def membership(self, user_id: str) -> Member | None:
        return _one(self._bind, sa.select(merchant_members).where(merchant_members.c.user_id == user_id), _member)

    def members(self, merchant_id: str) -> list[Member]:
        m = merchant_members.c
        query = sa.select(merchant_members).where(m.merchant_id == merchant_id).order_by(m.added_at, m.user_id)
        with reading(self._bind) as conn:
            return [_member(row) for row in conn.execute(query)]

    def update_member(self, member: Member) -> None:
        m = merchant_members.c
        where = sa.and_(m.merchant_id == member.merchant_id, m.user_id == member.user_id)
        missing = f"{member.user_id} is not a member of {member.merchant_id}"
        update_one(self._bind, merchant_members, where, {"role": member.role.value}, missing=missing)

    def remove_member(self, merchant_id: str, user_id: str) -> None:
        m = merchant_members.c
        with writing(self._bind) as conn:
            conn.execute(merchant_members.delete().where(m.merchant_id == merchant_id, m.user_id == user_id))

    def add_invitation(self, invitation: Invitation) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, merchant_invitations, _invitation_row(invitation, self._personal)):
                raise Conflict(f"invitation {invitation.id} exists")

    def invitation(self, invitation_id: str) -> Invitation | None:
        query = sa.select(merchant_invitations).where(merchant_invitations.c.id == invitation_id)
        return _one(self._bind, query, self._invitation)

    def invitation_by_hash(self, token_hash: str) -> Invitation | None:
        query = sa.select(merchant_invitations).where(merchant_invitations.c.token_hash == token_hash)
        return _one(self._bind, query, self._invitation)

    def invitations(self, merchant_id: str) -> list[Invitation]:
        i = merchant_invitations.c
        query = sa.select(merchant_invitations).where(i.merchant_id == merchant_id)
        with reading(self._bind) as conn:
            return [self._invitation(row) for row in conn.execute(query.order_by(i.created_at.desc(), i.id.desc()))]

    def invitations_to(self, email: str, *, since: datetime) -> int:
        i = merchant_invitations.c
        mine = (i.email_lookup == self._personal.lookup(email), i.created_at >= since)
        with reading(self._bind) as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(*mine)).scalar_one())

    def add_invitation_within(
        self, invitation: Invitation, *, per_address: int, since: datetime, team: TeamCaps | None = None
    ) -> InviteCap | None:
        """Counted and stored in one transaction under advisory locks (PostgreSQL; released at commit or rollback):
        the team's (with ``team``), then the address's keyed hash, always in that order, so two inviters never wait
        for each other in a cycle. SQLite needs none: a writer's ``BEGIN IMMEDIATE`` serialises writers."""
        i, lookup = merchant_invitations.c, self._personal.lookup(invitation.email)
        with writing(self._bind) as conn:
            if conn.dialect.name == "postgresql":
                if team is not None:
                    advisory_locks(conn, _TEAM_LOCKS, invitation.merchant_id)
                advisory_locks(conn, _INVITEE_LOCKS, lookup)
            if team is not None:
                refused = _team_cap(conn, invitation, lookup, team, since)
                if refused is not None:
                    return refused
            made = sa.select(sa.func.count()).where(i.email_lookup == lookup, i.created_at >= since)
            if int(conn.execute(made).scalar_one()) >= per_address:
                return InviteCap.ADDRESS_DAY
            if not insert_new(conn, merchant_invitations, _invitation_row(invitation, self._personal)):
                raise Conflict(f"invitation {invitation.id} exists")
            return None

    def update_invitation(self, invitation: Invitation) -> None:
        version = invitation.row_version
        row = _invitation_row(invitation, self._personal) | {"row_version": version + 1}
        with writing(self._bind) as conn:
            if not _versioned_update(conn, merchant_invitations, invitation.id, version, row, "invitation"):
                raise InvitationChanged(invitation.id)
        invitation.row_version += 1

    def claim_invitation(self, invitation_id: str, user_id: str, *, at: datetime) -> bool:
        i = merchant_invitations.c
        open_one = (i.id == invitation_id, i.accepted_at.is_(None), i.revoked_at.is_(None))
        with writing(self._bind) as conn:
            accepted = {"accepted_at": at, "accepted_by": user_id, "row_version": i.row_version + 1}
            statement = merchant_invitations.update().where(*open_one).values(**accepted)
            return bool(conn.execute(statement).rowcount == 1)

    def _invitation(self, row: Any) -> Invitation:
        return _invitation(row, self._personal)


_INVITEE_LOCKS = 0x494E5654  # "INVT": invitees' addresses' keyed hashes (advisory_locks)


_TEAM_LOCKS = 0x5445414D  # "TEAM": a team's invitation caps, taken before the invitee's lock


def _team_cap(
    conn: sa.Connection, invitation: Invitation, lookup: str, team: TeamCaps, since: datetime
) -> InviteCap | None:
    """The team cap ``invitation`` would pass, counted in ``conn``'s transaction (under the team's lock)."""
    i, now = merchant_invitations.c, invitation.created_at
    mine = i.merchant_id == invitation.merchant_id
    open_ = (mine, i.accepted_at.is_(None), i.revoked_at.is_(None), i.expires_at > now)
    if conn.execute(sa.select(sa.func.count()).where(*open_, i.email_lookup == lookup)).scalar_one():
        return InviteCap.ADDRESS_OPEN
    if int(conn.execute(sa.select(sa.func.count()).where(*open_)).scalar_one()) >= team.open:
        return InviteCap.TEAM_OPEN
    if int(conn.execute(sa.select(sa.func.count()).where(mine, i.created_at >= since)).scalar_one()) >= team.per_day:
        return InviteCap.TEAM_DAY
    return None


def _member_row(member: Member) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "merchant_id": member.merchant_id,
        "role": member.role.value,
        "added_at": member.added_at,
        "added_by": member.added_by,
    }


def _member(row: Any) -> Member:
    return Member(
        merchant_id=row.merchant_id,
        user_id=row.user_id,
        role=TeamRole(row.role),
        added_at=row.added_at,
        added_by=row.added_by,
    )


def _invitation_row(invitation: Invitation, personal: PersonalData) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "merchant_id": invitation.merchant_id,
        "email": personal.seal(invitation.email, context=f"merchant_invitations:{invitation.id}:email"),
        "email_lookup": personal.lookup(invitation.email),  # the keyed hash the per-address cap counts by (0126)
        "role": invitation.role.value,
        "token_hash": invitation.token_hash,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "invited_by": invitation.invited_by,
        "accepted_at": invitation.accepted_at,
        "accepted_by": invitation.accepted_by,
        "revoked_at": invitation.revoked_at,
    }


def _invitation(row: Any, personal: PersonalData) -> Invitation:
    return Invitation(
        id=row.id,
        merchant_id=row.merchant_id,
        email=personal.open(row.email, context=f"merchant_invitations:{row.id}:email"),
        role=TeamRole(row.role),
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        invited_by=row.invited_by,
        accepted_at=row.accepted_at,
        accepted_by=row.accepted_by,
        revoked_at=row.revoked_at,
        row_version=row.row_version,
    )
