"""Two-factor authentication: TOTP enrolment (confirmed by a first code), recovery codes, removal.

Enrolment and removal happen under step-up (the shells check it). A code is accepted once: the user keeps the
last accepted time step, so a code seen over a shoulder cannot be replayed. Recovery codes are shown once and
stored as SHA-256 hashes; each works once. Staff roles (admin, compliance) cannot remove their second factor.

>>> from cryptopay.core.testing.identity import InMemoryUsers, StdlibTotp
>>> from cryptopay.core.testing.storage import InMemoryAuditLog
>>> from cryptopay.core.testing.system import ManualClock
>>> from cryptopay.core.identity.model import Role, User
>>> users, clock, totp = InMemoryUsers(), ManualClock(), StdlibTotp()
>>> users.add(User("usr_1", "ann@example.co.ke", "hash", Role.MERCHANT, clock.now()))
>>> from cryptopay.core.identity.sessions import SessionStates
>>> from cryptopay.core.testing.identity import InMemoryRefreshTokens
>>> tf = TwoFactor(users, totp, InMemoryAuditLog(), clock, SessionStates(users, InMemoryRefreshTokens(), clock))
>>> enrolment = tf.begin("usr_1")
>>> code = totp.code_at(enrolment.secret, int(clock.now().timestamp()))
>>> len(tf.confirm("usr_1", code))
10
>>> tf.check(users.get("usr_1"), code)  # the same code again
False
"""

from __future__ import annotations

import secrets

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.identity.credentials import hash_secret, secrets_equal
from cryptopay.core.identity.model import AccountChanged, Forbidden, User
from cryptopay.core.identity.sessions import SessionStates
from cryptopay.core.ports.identity import AuditTrail, TotpEngine, UserRepository
from cryptopay.core.ports.system import Clock

__all__ = ["RECOVERY_CODES", "Enrolment", "TwoFactor"]

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


@attrs.frozen
class Enrolment:
    """A started enrolment: the secret and the ``otpauth://`` URI to scan; shown once."""

    secret: str = attrs.field(repr=False)
    uri: str = attrs.field(repr=False)


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _normalise(code: str) -> str:
    return code.strip().lower().replace(" ", "")


@attrs.define
class TwoFactor:
    """TOTP second factors with recovery codes."""

    users: UserRepository
    totp: TotpEngine
    audit: AuditTrail
    clock: Clock
    sessions: SessionStates
    issuer: str = "cryptopay"

    def begin(self, user_id: str) -> Enrolment:
        """Start (or restart) an enrolment; ``Conflict`` if a second factor is already active."""
        user = self._user(user_id)
        if user.two_factor:
            raise Conflict("two-factor authentication is already active; remove it first")
        user.totp_secret, user.totp_confirmed_at = self.totp.new_secret(), None
        self.users.update(user)
        uri = self.totp.provisioning_uri(user.totp_secret, account=user.login_name, issuer=self.issuer)
        return Enrolment(user.totp_secret, uri)

    def confirm(self, user_id: str, code: str) -> list[str]:
        """Activate the enrolment with a first valid code; returns the recovery codes (shown this once)."""
        user = self._user(user_id)
        if user.totp_secret is None or user.two_factor:
            raise Conflict("no enrolment is waiting for confirmation; start one first")
        if not self._accept_totp(user, code):
            raise InvalidInput("the code is wrong or already used; try the next one", field="code")
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        user.totp_confirmed_at = self.clock.now()
        user.recovery_code_hashes = tuple(hash_secret(c.replace("-", "")) for c in codes)
        user.session_version += 1  # sessions opened without the second factor end
        self.users.update(user)
        self.sessions.forget_user(user.id)
        self._record(user, "auth.2fa_enrolled")
        return codes

    def remove(self, user_id: str) -> None:
        """Turn two-factor authentication off (not allowed for staff roles)."""
        user = self._user(user_id)
        if user.role.needs_two_factor:
            raise Forbidden(f"the {user.role.value} role requires two-factor authentication")
        if user.totp_secret is None:
            return
        user.totp_secret, user.totp_confirmed_at, user.recovery_code_hashes = None, None, ()
        self.users.update(user)
        self._record(user, "auth.2fa_removed")

    def check(self, user: User, code: str) -> bool:
        """True if ``code`` is a fresh TOTP code or an unused recovery code of an enrolled user (it is consumed).

        Consumed atomically: the write is made only over the account as it was read (``UserRepository.update``),
        so of concurrent requests presenting one code only the first is accepted (review11 R11-2); a request that
        lost the race is refused as a used code would be."""
        if not user.two_factor:
            return False
        if self._accept_totp(user, code):
            return self._consumed(user)
        wanted = hash_secret(_normalise(code).replace("-", ""))
        left = tuple(h for h in user.recovery_code_hashes if not secrets_equal(h, wanted))
        if len(left) == len(user.recovery_code_hashes):
            return False
        user.recovery_code_hashes = left
        if not self._consumed(user):
            return False
        self._record(user, "auth.recovery_code_used", left=str(len(left)))
        return True

    def _consumed(self, user: User) -> bool:
        try:
            self.users.update(user)
        except AccountChanged:
            return False
        return True

    def _accept_totp(self, user: User, code: str) -> bool:
        digits = _normalise(code)
        if user.totp_secret is None or len(digits) != 6 or not digits.isdigit():
            return False
        step = self.totp.matching_step(user.totp_secret, digits, at=self.clock.now())
        if step is None or step <= user.totp_last_step:
            return False
        user.totp_last_step = step
        return True

    def _user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    def _record(self, user: User, action: str, **details: str) -> None:
        event = AuditEvent(f"user:{user.id}", action, f"user:{user.id}", self.clock.now(), details)
        self.audit.append(event)
