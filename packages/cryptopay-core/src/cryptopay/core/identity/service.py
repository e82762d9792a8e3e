"""Identity use cases: register, log in, rotate refresh tokens (with reuse detection), log out, API keys.

A login starts a refresh-token *family*. Each refresh rotates the token: the presented one is marked used and a
new one of the same family is issued. Presenting a used (or revoked) token again means it leaked, so the whole
family is revoked and every session of that login must log in again.
"""

from __future__ import annotations

import contextlib
import re
import time
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.identity.credentials import (
    AccessClaims,
    AccessTokenSigner,
    StepUpClaims,
    hash_secret,
    new_api_key,
    new_secret,
    parse_api_key,
    secrets_equal,
)
from cryptopay.core.identity.model import (
    MERCHANT_SCOPES,
    AccountChanged,
    ApiKey,
    Forbidden,
    Principal,
    PrincipalKind,
    RefreshToken,
    Role,
    StepUpRequired,
    TwoFactorRequired,
    Unauthenticated,
    User,
)
from cryptopay.core.identity.sessions import SessionStates
from cryptopay.core.identity.two_factor import TwoFactor
from cryptopay.core.identity.weak_passwords import check_not_weak
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.ports.identity import (
    ApiKeyRepository,
    AuditTrail,
    ChangeEpoch,
    PasswordHasher,
    RefreshTokenRepository,
    UserRepository,
)
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.text import TextKind, checked_text

__all__ = ["EMAIL_PATTERN", "EMAIL_RULE", "Accounts", "ApiKeys", "TokenPair", "check_password", "valid_email"]

# An address mail can be sent to safely (review H11): an ASCII dot-atom local part, "@", and a registrable DNS name
# of two or more labels (letters, digits, inner hyphens) ending in an alphabetic or xn-- top-level label. No address
# literals (``a@[127.0.0.1]``: the notifier's relay would deliver to whatever host that names), no single-label hosts
# (``a@localhost``), no numeric top-level label (``a@10.0.0.1``), no non-ASCII (``dúka@example.co.ke`` looks like
# ``duka@``): an internationalised domain is written in its xn-- (punycode) form, which is what officers then see.
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|[Xx][Nn]--[A-Za-z0-9-]{{1,59}})$"
EMAIL_RULE = (
    "must be an email address such as name@example.com: ASCII characters at a domain name (no IP address or "
    "single-label host; an internationalised domain in its xn-- form)"
)
_EMAIL = re.compile(EMAIL_PATTERN, re.ASCII)
MIN_PASSWORD, MAX_PASSWORD = 12, 256  # the upper bound keeps argon2 from being a denial-of-service lever


@attrs.frozen
class TokenPair:
    """A fresh access token and refresh token for a user; never log it."""

    user: User
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    family_id: str
    expires_in: int
    enrolment_only: bool = False  # a staff login that must enrol a second factor before anything else


@attrs.define
class Accounts:
    """Users, passwords and sessions; every security event is appended to the audit trail."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    hasher: PasswordHasher
    signer: AccessTokenSigner
    clock: Clock
    ids: IdGenerator
    audit: AuditTrail
    second_factor: TwoFactor
    sessions: SessionStates
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)  # absolute: a login ends this long after it started
    step_up_ttl: timedelta = timedelta(minutes=5)
    _dummy_hash: str | None = None

    def register(self, email: str, password: str, *, role: Role, display_name: str | None = None) -> User:
        """Create a user with a hashed password; ``Conflict`` if the email is taken."""
        email = valid_email(email)
        check_password(password, email)
        if display_name is not None:
            checked_text(display_name, field="display_name", kind=TextKind.NAME)
        if self.users.by_email(email) is not None:
            raise Conflict("an account with this email already exists", field="email")
        user = User(self.ids.new_id("usr"), email, self.hasher.hash(password), role, self.clock.now(), display_name)
        self.users.add(user)
        self._record(user.id, "auth.register", role=role.value)
        return user

    def login(self, email: str, password: str, *, code: str | None = None) -> TokenPair:
        """Check the password (and the second factor if the account has one) and start a new login family.

        ``email`` is the email, or the verified phone of a personal wallet (``07…``, ``+2547…``).
        The same error for an unknown email, a bad password or a disabled account (``User.disabled_at``: it is as
        good as gone). A staff account without a second factor gets an enrolment-only session: it can do nothing but
        enrol one.
        """
        user = self._by_login_name(email)
        if user is not None and user.disabled_at is not None:
            self._record(user.id, "auth.login_failed", reason="disabled")
            user = None
        if user is None:
            self.hasher.verify(self._timing_hash(), password)  # spend the same time as a real check
            raise Unauthenticated("the email or password is wrong")
        if not self.hasher.verify(user.password_hash, password):
            self._record(user.id, "auth.login_failed", reason="password")
            raise Unauthenticated("the email or password is wrong")
        if user.two_factor:
            self._second_factor(user, code)
        if self.hasher.needs_rehash(user.password_hash):
            user.password_hash = self.hasher.hash(password)
            # Another write may have come first (a password change?): then the next login rehashes.
            with contextlib.suppress(AccountChanged):
                self.users.update(user)
        pair = self._issue(user, family_id=self.ids.new_id("fam"), expires_at=self.clock.now() + self.refresh_ttl)
        self._record(user.id, "auth.login", family=pair.family_id, enrolment_only=str(pair.enrolment_only))
        return pair

    def login_subject(self, name: object) -> str:
        """Whom a login name means, for counting password guesses per account: the user's id when it names one
        (an email in any case, a verified phone in any spelling), else the name folded as a lookup folds it
        (``254…`` for anything that reads as a number), so no spelling of a name has a count of its own."""
        user = self._by_login_name(name)
        if user is not None:
            return user.id
        text = name.strip().lower() if isinstance(name, str) else ""
        return (None if "@" in text else try_normalize_msisdn(text)) or text

    def _by_login_name(self, name: object) -> User | None:
        if not isinstance(name, str):
            return None
        if "@" in name:
            return self.users.by_email(name.strip().lower())
        phone = try_normalize_msisdn(name)
        return self.users.by_phone(phone) if phone is not None else None

    def _second_factor(self, user: User, code: str | None) -> None:
        if not code:
            raise TwoFactorRequired("this account uses two-factor authentication: send the code")
        if not self.second_factor.check(user, code):
            self._record(user.id, "auth.login_failed", reason="second factor")
            raise TwoFactorRequired("the one-time code is wrong or already used")

    def refresh(self, presented: str) -> TokenPair:
        """Rotate a refresh token; reusing a rotated or revoked one revokes its whole family.

        The new token keeps the family's expiry: a login lasts ``refresh_ttl`` from the login, however often it
        is refreshed.
        """
        now = self.clock.now()
        token = self.refresh_tokens.by_hash(hash_secret(presented))
        if token is None:
            raise Unauthenticated("the refresh token is invalid")
        if (
            token.rotated_at is not None
            or token.revoked_at is not None
            or not self.refresh_tokens.mark_rotated(token.id, at=now)
        ):
            self._revoke(token.user_id, token.family_id, "auth.family_revoked", reason="refresh token reused")
            raise Unauthenticated("this refresh token was used before; the login has been signed out everywhere")
        if now >= token.expires_at:
            raise Unauthenticated("the refresh token has expired; log in again")
        user = self.users.get(token.user_id)
        if user is None or user.disabled_at is not None:
            raise Unauthenticated("the account no longer exists")
        return self._issue(user, family_id=token.family_id, expires_at=token.expires_at)

    def family_of(self, presented: str) -> str | None:
        """The family id of a refresh token, if it is known (used to bind CSRF tokens to a login)."""
        token = self.refresh_tokens.by_hash(hash_secret(presented))
        return token.family_id if token else None

    def logout(self, presented: str) -> None:
        """Revoke the session family of a refresh token (its access tokens stop at once); unknown tokens are ignored."""
        token = self.refresh_tokens.by_hash(hash_secret(presented))
        if token is not None:
            self._revoke(token.user_id, token.family_id, "auth.logout")

    def change_password(self, user_id: str, current: str, new: str) -> User:
        """Replace the password after checking the current one; every login of the account ends (sign in again).

        A wrong current password is ``Unauthenticated`` and audited; the new one meets the same rules as at
        registration (``check_password``)."""
        user = self.users.get(user_id)
        if user is None:
            raise Unauthenticated("log in again")
        if not self.hasher.verify(user.password_hash, current):
            self._record(user.id, "auth.password_change_failed")
            raise Unauthenticated("the current password is wrong")
        check_password(new, user.email or "")
        if self.hasher.verify(user.password_hash, new):
            raise InvalidInput("choose a password different from the current one", field="password")
        user.password_hash = self.hasher.hash(new)
        self.users.update(user)
        self._record(user.id, "auth.password_changed")
        self.end_all_sessions(user, actor=f"user:{user.id}", reason="password changed")
        return user

    def sign_out_everywhere(self, user_id: str) -> None:
        """The account's owner ends every login of the account (this one too): a lost phone, a suspected theft."""
        user = self.users.get(user_id)
        if user is None:
            raise Unauthenticated("log in again")
        self.end_all_sessions(user, actor=f"user:{user.id}", reason="signed out everywhere")

    def end_all_sessions(self, user: User, *, actor: str, reason: str) -> None:
        """End every login of the account at once: bump its session version and revoke every refresh token."""
        user.session_version += 1
        self.users.update(user)
        self.refresh_tokens.revoke_user(user.id, at=self.clock.now())
        self.sessions.forget_user(user.id)
        self._record(user.id, "auth.sessions_ended", actor=actor, reason=reason)

    def authenticate(self, access_token: str) -> Principal:
        """The user principal of a valid access token whose login is still active, with the role reloaded."""
        claims = self.signer.verify(access_token, now=self.clock.now())
        state = self.sessions.get(claims.subject, claims.family_id)
        if state is None or not state.login_active or state.session_version != claims.session_version:
            raise Unauthenticated("this session has ended; log in again")
        enrolment_only = claims.enrolment_only or (state.role.needs_two_factor and not state.two_factor)
        return Principal(
            kind=PrincipalKind.USER,
            id=claims.subject,
            role=state.role,
            session_id=claims.family_id,
            enrolment_only=enrolment_only,
        )

    def step_up(self, principal: Principal, *, password: str | None = None, code: str | None = None) -> str:
        """A short-lived step-up token after a fresh password or one-time code, bound to the caller's login.

        With two-factor authentication enrolled only a code (TOTP or recovery) will do: the password alone is what a
        thief of the session is most likely to also have."""
        user = self.users.get(principal.id) if principal.kind is PrincipalKind.USER else None
        if user is None or principal.session_id is None:
            raise Forbidden("only a logged-in user can step up")
        if code:
            ok = self.second_factor.check(user, code)
        elif password and user.two_factor:
            # A stolen session plus the password must not be enough to remove the second factor or redirect money.
            raise StepUpRequired("this account has two-factor authentication: step up with a one-time code")
        elif password:
            ok = self.hasher.verify(user.password_hash, password)
        else:
            raise InvalidInput("send the password or a one-time code", field="password")
        if not ok:
            self._record(user.id, "auth.step_up_failed")
            raise StepUpRequired("the password or code is wrong")
        now = self.clock.now()
        self._record(user.id, "auth.step_up", method="code" if code else "password")
        return self.signer.sign_step_up(StepUpClaims(user.id, principal.session_id, now, now + self.step_up_ttl))

    def check_step_up(self, principal: Principal, token: str | None) -> None:
        """``StepUpRequired`` unless ``token`` is a fresh step-up of this very login."""
        if not token:
            raise StepUpRequired("this operation needs a fresh step-up (POST /v1/auth/step-up, X-Step-Up-Token header)")
        claims = self.signer.verify_step_up(token, now=self.clock.now())
        if claims.subject != principal.id or claims.family_id != principal.session_id:
            raise StepUpRequired("the step-up token belongs to another login; step up again")

    def _issue(self, user: User, *, family_id: str, expires_at: datetime) -> TokenPair:
        now = self.clock.now()
        secret = new_secret()
        token = RefreshToken(self.ids.new_id("rtk"), family_id, user.id, hash_secret(secret), now, expires_at)
        self.refresh_tokens.add(token)
        enrolment_only = user.role.needs_two_factor and not user.two_factor
        claims = AccessClaims(
            user.id,
            user.role.value,
            self.ids.new_id("atk"),
            now,
            now + self.access_ttl,
            family_id,
            user.session_version,
            enrolment_only,
        )
        ttl = int(self.access_ttl.total_seconds())
        return TokenPair(user, self.signer.sign(claims), secret, family_id, ttl, enrolment_only)

    def _revoke(self, user_id: str, family_id: str, action: str, **details: str) -> None:
        self.refresh_tokens.revoke_family(family_id, at=self.clock.now())
        self.sessions.forget_family(family_id)
        self._record(user_id, action, family=family_id, **details)

    def _record(self, user_id: str, action: str, *, actor: str | None = None, **details: str) -> None:
        event = AuditEvent(actor or f"user:{user_id}", action, f"user:{user_id}", self.clock.now(), details)
        self.audit.append(event)

    def _timing_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(new_secret())
        return self._dummy_hash


_KEPT_PRINCIPALS = 10_000  # past this many, the kept principals are dropped and gathered again


@attrs.define
class ApiKeys:
    """Merchant API keys: created with scopes, shown once, stored hashed, revocable.

    With a shared ``epoch`` (every API process's identity epoch: bumped by every change of a key, a merchant or a
    login, ``cryptopay.adapters.cache``), the principal of a presented key is kept in this process for
    ``kept_seconds`` while the epoch is unchanged: a request with a key in use costs one dictionary look-up, not a
    parse, a row copy, a hash comparison and a new principal (about a tenth of a kept invoice read's CPU). The epoch
    is read before the key is, so a principal read across a change is never kept past it; a revocation bumps the
    epoch, and the next request, in any process, checks the key again. Without an epoch nothing is kept.
    """

    keys: ApiKeyRepository
    clock: Clock
    ids: IdGenerator
    audit: AuditTrail
    epoch: ChangeEpoch | None = None
    kept_seconds: float = 60.0
    _kept: dict[str, tuple[int, float, Principal]] = attrs.field(init=False, factory=dict)

    def create(self, merchant_id: str, *, name: str, scopes: Iterable[str], created_by: str) -> tuple[ApiKey, str]:
        """A new key and the secret string to show the merchant exactly once."""
        wanted = frozenset(scopes)
        unknown = sorted(wanted - MERCHANT_SCOPES)
        if unknown or not wanted:
            known = ", ".join(sorted(MERCHANT_SCOPES))
            raise InvalidInput(f"scopes must be a non-empty subset of: {known}", field="scopes", unknown=unknown)
        if not name.strip() or len(name) > 100:
            raise InvalidInput("name must be 1 to 100 characters", field="name")
        checked_text(name, field="name", kind=TextKind.NAME)
        key_id, secret, presented = new_api_key(self.ids.new_id("key"))
        key = ApiKey(key_id, merchant_id, name.strip(), wanted, hash_secret(secret), self.clock.now(), created_by)
        self.keys.add(key)
        scopes = ",".join(sorted(wanted))
        self._record(f"user:{created_by}", "api_key.created", key, scopes=scopes)
        return key, presented

    def authenticate(self, presented: str) -> Principal:
        """The API-key principal of a presented key string; ``Unauthenticated`` if it is unknown or revoked."""
        epoch = self.epoch.current() if self.epoch is not None else None
        digest = hash_secret(presented) if epoch is not None else ""  # kept by its hash: no secret held
        if epoch is not None:
            kept = self._kept.get(digest)
            if kept is not None and kept[0] == epoch and time.monotonic() < kept[1]:
                return kept[2]
        principal = self._check(presented)
        if epoch is not None:
            if len(self._kept) >= _KEPT_PRINCIPALS:
                self._kept = {}
            self._kept[digest] = (epoch, time.monotonic() + self.kept_seconds, principal)
        return principal

    def _check(self, presented: str) -> Principal:
        parsed = parse_api_key(presented)
        key = self.keys.get(parsed[0]) if parsed else None
        if parsed is None or key is None or not secrets_equal(key.secret_hash, hash_secret(parsed[1])):
            raise Unauthenticated("the API key is invalid or revoked")
        if key.revoked_at is not None:
            raise Unauthenticated("the API key is invalid or revoked")
        return Principal(
            kind=PrincipalKind.API_KEY, id=key.id, role=Role.MERCHANT, merchant_id=key.merchant_id, scopes=key.scopes
        )

    def revoke(self, key: ApiKey, *, actor: str) -> ApiKey:
        """Revoke a key (idempotent); ``actor`` is who, as the audit log names it (``user:<id>``)."""
        if key.revoked_at is None:
            key.revoked_at = self.clock.now()
            self.keys.update(key)
            self._record(actor, "api_key.revoked", key)
        return key

    def _record(self, actor: str, action: str, key: ApiKey, **details: str) -> None:
        details = {"merchant": key.merchant_id, **details}
        self.audit.append(AuditEvent(actor, action, f"api_key:{key.id}", self.clock.now(), details))


def valid_email(email: str) -> str:
    """The normalised (lower-cased) email; ``InvalidInput`` (``EMAIL_RULE``, field ``email``) if it is not one.

    >>> valid_email(" Amina@Duka.co.KE "), valid_email("a.b+c@xn--dka-kla.co.ke")
    ('amina@duka.co.ke', 'a.b+c@xn--dka-kla.co.ke')
    >>> [_refused(e) for e in ("a@[127.0.0.1]", "a@localhost", "a@10.0.0.1", "dúka@example.co.ke", "a@dúka.ke")]
    [True, True, True, True, True]
    >>> [_refused(e) for e in ("a..b@example.com", ".a@example.com", "a@-x.com", "a@x..com", "a@x.c0m")]
    [True, True, True, True, True]
    """
    normalized = email.strip().lower()
    if len(normalized) > 254 or len(normalized.partition("@")[0]) > 64 or not _EMAIL.fullmatch(normalized):
        raise InvalidInput(EMAIL_RULE, field="email")
    return normalized


def _refused(email: str) -> bool:
    try:
        valid_email(email)
    except InvalidInput:
        return True
    return False


def check_password(password: str, email: str) -> None:
    """``InvalidInput`` unless the password is long enough, bounded, free of control characters (a NUL or a
    newline is cut or changed by some keyboards, forms and terminals: the owner could not type it again) and not the
    email address, nor trivially weak (``WeakPassword``, 422 ``weak_password``: ``identity.weak_passwords``).

    >>> check_password("correct horse battery", "a@example.com")
    >>> check_password("correct horse" + chr(0) * 8, "a@example.com")
    Traceback (most recent call last):
    cryptopay.core.errors.InvalidInput: password must not contain control characters
    """
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        raise InvalidInput("password must not contain control characters", field="password")
    if password.strip().lower() == email:
        raise InvalidInput("password must not be the email address", field="password")
    check_not_weak(password)
