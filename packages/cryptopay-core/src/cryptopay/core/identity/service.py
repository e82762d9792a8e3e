"""Identity use cases: register, log in, rotate refresh tokens (with reuse detection), log out, API keys.

A login starts a refresh-token *family*. Each refresh rotates the token: the presented one is marked used and a
new one of the same family is issued. Presenting a used (or revoked) token again means it leaked, so the whole
family is revoked and every session of that login must log in again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

import attrs
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.identity.credentials import (
    AccessClaims,
    AccessTokenSigner,
    hash_secret,
    new_api_key,
    new_secret,
    parse_api_key,
    secrets_equal,
)
from cryptopay.core.identity.model import (
    MERCHANT_SCOPES,
    ApiKey,
    Principal,
    PrincipalKind,
    RefreshToken,
    Role,
    Unauthenticated,
    User,
)
from cryptopay.core.ports.identity import ApiKeyRepository, PasswordHasher, RefreshTokenRepository, UserRepository
from cryptopay.core.ports.system import Clock, IdGenerator

__all__ = ["Accounts", "ApiKeys", "TokenPair"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD, MAX_PASSWORD = 12, 256  # the upper bound keeps argon2 from being a denial-of-service lever


@attrs.frozen
class TokenPair:
    """A fresh access token and refresh token for a user; never log it."""

    user: User
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    family_id: str
    expires_in: int


@attrs.define
class Accounts:
    """Users, passwords and sessions."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    hasher: PasswordHasher
    signer: AccessTokenSigner
    clock: Clock
    ids: IdGenerator
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    _dummy_hash: str | None = None

    def register(self, email: str, password: str, *, role: Role, display_name: str | None = None) -> User:
        """Create a user with a hashed password; ``Conflict`` if the email is taken."""
        email = _valid_email(email)
        _check_password(password, email)
        if self.users.by_email(email) is not None:
            raise Conflict("an account with this email already exists", field="email")
        user = User(self.ids.new_id("usr"), email, self.hasher.hash(password), role, self.clock.now(), display_name)
        self.users.add(user)
        return user

    def login(self, email: str, password: str) -> TokenPair:
        """Check the password and start a new session family; the same error for an unknown email or bad password."""
        user = self.users.by_email(email.strip().lower()) if isinstance(email, str) else None
        if user is None:
            self.hasher.verify(self._timing_hash(), password)  # spend the same time as a real check
            raise Unauthenticated("the email or password is wrong")
        if not self.hasher.verify(user.password_hash, password):
            raise Unauthenticated("the email or password is wrong")
        if self.hasher.needs_rehash(user.password_hash):
            user.password_hash = self.hasher.hash(password)
            self.users.update(user)
        return self._issue(user, family_id=self.ids.new_id("fam"))

    def refresh(self, presented: str) -> TokenPair:
        """Rotate a refresh token; reusing a rotated or revoked one revokes its whole family."""
        now = self.clock.now()
        token = self.refresh_tokens.by_hash(hash_secret(presented))
        if token is None:
            raise Unauthenticated("the refresh token is invalid")
        if token.rotated_at is not None or token.revoked_at is not None:
            self.refresh_tokens.revoke_family(token.family_id, at=now)
            raise Unauthenticated("this refresh token was used before; the login has been signed out everywhere")
        if now >= token.expires_at:
            raise Unauthenticated("the refresh token has expired; log in again")
        if not self.refresh_tokens.mark_rotated(token.id, at=now):
            self.refresh_tokens.revoke_family(token.family_id, at=now)
            raise Unauthenticated("this refresh token was used before; the login has been signed out everywhere")
        user = self.users.get(token.user_id)
        if user is None:
            raise Unauthenticated("the account no longer exists")
        return self._issue(user, family_id=token.family_id)

    def family_of(self, presented: str) -> str | None:
        """The family id of a refresh token, if it is known (used to bind CSRF tokens to a login)."""
        token = self.refresh_tokens.by_hash(hash_secret(presented))
        return token.family_id if token else None

    def logout(self, presented: str) -> None:
        """Revoke the session family of a refresh token; unknown tokens are ignored."""
        token = self.refresh_tokens.by_hash(hash_secret(presented))
        if token is not None:
            self.refresh_tokens.revoke_family(token.family_id, at=self.clock.now())

    def authenticate(self, access_token: str) -> Principal:
        """The user principal of a valid access token (its tenant is resolved by the caller)."""
        claims = self.signer.verify(access_token, now=self.clock.now())
        try:
            role = Role(claims.role)
        except ValueError:
            raise Unauthenticated("the access token is invalid") from None
        return Principal(kind=PrincipalKind.USER, id=claims.subject, role=role)

    def _issue(self, user: User, *, family_id: str) -> TokenPair:
        now = self.clock.now()
        secret = new_secret()
        token = RefreshToken(
            self.ids.new_id("rtk"), family_id, user.id, hash_secret(secret), now, now + self.refresh_ttl
        )
        self.refresh_tokens.add(token)
        claims = AccessClaims(user.id, user.role.value, self.ids.new_id("atk"), now, now + self.access_ttl)
        ttl = int(self.access_ttl.total_seconds())
        return TokenPair(user, self.signer.sign(claims), secret, family_id, ttl)

    def _timing_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(new_secret())
        return self._dummy_hash


@attrs.define
class ApiKeys:
    """Merchant API keys: created with scopes, shown once, stored hashed, revocable."""

    keys: ApiKeyRepository
    clock: Clock
    ids: IdGenerator

    def create(self, merchant_id: str, *, name: str, scopes: Iterable[str], created_by: str) -> tuple[ApiKey, str]:
        """A new key and the secret string to show the merchant exactly once."""
        wanted = frozenset(scopes)
        unknown = sorted(wanted - MERCHANT_SCOPES)
        if unknown or not wanted:
            known = ", ".join(sorted(MERCHANT_SCOPES))
            raise InvalidInput(f"scopes must be a non-empty subset of: {known}", field="scopes", unknown=unknown)
        if not name.strip() or len(name) > 100:
            raise InvalidInput("name must be 1 to 100 characters", field="name")
        key_id, secret, presented = new_api_key(self.ids.new_id("key"))
        key = ApiKey(key_id, merchant_id, name.strip(), wanted, hash_secret(secret), self.clock.now(), created_by)
        self.keys.add(key)
        return key, presented

    def authenticate(self, presented: str) -> Principal:
        """The API-key principal of a presented key string; ``Unauthenticated`` if it is unknown or revoked."""
        parsed = parse_api_key(presented)
        key = self.keys.get(parsed[0]) if parsed else None
        if parsed is None or key is None or not secrets_equal(key.secret_hash, hash_secret(parsed[1])):
            raise Unauthenticated("the API key is invalid or revoked")
        if key.revoked_at is not None:
            raise Unauthenticated("the API key is invalid or revoked")
        return Principal(
            kind=PrincipalKind.API_KEY, id=key.id, role=Role.MERCHANT, merchant_id=key.merchant_id, scopes=key.scopes
        )

    def revoke(self, key: ApiKey) -> ApiKey:
        """Revoke a key (idempotent)."""
        if key.revoked_at is None:
            key.revoked_at = self.clock.now()
            self.keys.update(key)
        return key


def _valid_email(email: str) -> str:
    normalized = email.strip().lower()
    if len(normalized) > 254 or not _EMAIL.match(normalized):
        raise InvalidInput("email is not a valid email address", field="email")
    return normalized


def _check_password(password: str, email: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password")
    if password.strip().lower() == email:
        raise InvalidInput("password must not be the email address", field="password")
