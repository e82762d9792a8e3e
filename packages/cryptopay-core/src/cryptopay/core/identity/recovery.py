"""Account recovery: a password reset by a single-use, short-lived link sent through the notifier.

The reset token is signed (like access tokens) and bound to a fingerprint of the account's current password hash
and session version, so it stops working as soon as it is used (the reset changes both) and after ``ttl``. A reset
ends every session of the account. Asking for a reset answers the same whether or not the email is known, and
does the same work (review 3, I14: a synchronous SMTP session for customers only timed who is one): a known address
gets its link, an unknown one an email saying it has no account (as registration tells an address's owner, never
the caller), each after signing a token and auditing the request.
The first reset of an account is also the first proof that its email is the caller's: ``User.email_verified_at``
is set, and ``reclaim`` (when given) distrusts what the account set up before (``identity.reclaim``).
"""

from __future__ import annotations

from datetime import timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.identity.credentials import hash_secret, secrets_equal
from cryptopay.core.identity.model import Unauthenticated, User
from cryptopay.core.identity.reclaim import Reclaim
from cryptopay.core.identity.service import Accounts, check_password, valid_email
from cryptopay.core.ports.notifications import Notification, Notifier

__all__ = ["PasswordResets"]


def _fingerprint(user: User) -> str:
    return hash_secret(f"{user.password_hash}:{user.session_version}")[:32]


@attrs.define
class PasswordResets:
    """Request and complete password resets."""

    accounts: Accounts
    notifier: Notifier
    link: str = "http://127.0.0.1:8000/reset-password#token="  # the reset page; the token is appended
    ttl: timedelta = timedelta(minutes=30)
    reclaim: Reclaim | None = None  # run at the account's first proof of its email

    def request(self, email: str) -> None:
        """Email the address a reset link if it has an account, else a note that it has none: the same steps
        (look-up, token signed, one email, one audit record) either way. A malformed address is ``InvalidInput``."""
        address = valid_email(email)
        user = self.accounts.users.by_email(address)
        expires_at = self.accounts.clock.now() + self.ttl
        subject = user.id if user is not None else "unknown"
        fingerprint = _fingerprint(user) if user is not None else hash_secret(address)[:32]
        token = self.accounts.signer.sign_reset(subject, fingerprint, expires_at=expires_at)
        if user is None:
            self.notifier.send(Notification(address, "About resetting a cryptopay password", self._no_account()))
            self.accounts.audit.append(
                AuditEvent("anonymous", "auth.password_reset_of_no_account", "user:none", self.accounts.clock.now())
            )
            return
        minutes = int(self.ttl.total_seconds() // 60)
        body = (
            f"Someone asked to reset the password of this account.\n\nReset it within {minutes} minutes: "
            f"{self.link}{token}\n\nIf it was not you, ignore this message; your password stays as it is."
        )
        self.notifier.send(Notification(address, "Reset your cryptopay password", body))
        self._record(user, "auth.password_reset_requested")

    def _no_account(self) -> str:
        return (
            "Someone asked to reset the password of a cryptopay account with this email, but it has none, so no "
            "link was made.\n\nIf it was you, you may have signed up with another email or by phone. If not, you "
            "need do nothing."
        )

    def reset(self, token: str, new_password: str) -> User:
        """Set a new password with a reset token, and end every session of the account; at the account's first
        proof of its email, also secure what it set up before (``reclaim``)."""
        subject, fingerprint = self.accounts.signer.verify_reset(token, now=self.accounts.clock.now())
        user = self.accounts.users.get(subject)
        if user is None or not secrets_equal(fingerprint, _fingerprint(user)):
            raise Unauthenticated("the reset link is invalid or was used; ask for a new one")
        check_password(new_password, user.email or "")
        user.password_hash = self.accounts.hasher.hash(new_password)
        first_proof = user.email_verified_at is None
        if first_proof:
            user.email_verified_at = self.accounts.clock.now()
        self.accounts.users.update(user)
        self._record(user, "auth.password_reset")
        if first_proof:
            self._record(user, "auth.email_proven")
        self.accounts.end_all_sessions(user, actor=f"user:{user.id}", reason="password reset")
        if first_proof and self.reclaim is not None:
            self.reclaim.secure(user)
        return user

    def _record(self, user: User, action: str) -> None:
        at = self.accounts.clock.now()
        self.accounts.audit.append(AuditEvent(f"user:{user.id}", action, f"user:{user.id}", at))
