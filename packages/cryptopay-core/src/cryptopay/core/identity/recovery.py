"""Account recovery: a password reset by a single-use, short-lived link sent through the notifier.

The reset token is signed (like access tokens) and bound to a fingerprint of the account's current password hash
and session version, so it stops working as soon as it is used (the reset changes both) and after ``ttl``. A reset
ends every session of the account. Asking for a reset answers the same whether or not the email is known, and
does the same work (review 3, I14: a synchronous SMTP session for customers only timed who is one): a known address
gets its link, an unknown one an email saying it has no account (as registration tells an address's owner, never
the caller), each after signing a token and auditing the request.
The first reset of an account is also the first proof that its email is the caller's: ``User.email_verified_at``
is set, and ``reclaim`` (when given) distrusts what the account set up before (``identity.reclaim``).

A personal wallet is different (review6 F7): its identity is the phone its sign-up verified by SMS, and the email it
may give is only a contact until proven from inside the account (the proof link sent at sign-up, or
``/v1/auth/email/resend``). Whoever holds an unproven address (a typo, a "helper" who typed their own) must not own
the wallet by resetting its password, so an unproven address of a personal account gets an email saying no link
was made (the same work as any other request: a token signed, one email, one audit record), a reset token for such
an account is refused, and every reset of an account with a phone is told to that phone by SMS (``sms``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Unavailable
from cryptopay.core.identity.credentials import hash_secret, secrets_equal
from cryptopay.core.identity.email_proof import signed_up_by_phone
from cryptopay.core.identity.model import Unauthenticated, User
from cryptopay.core.identity.reclaim import Reclaim
from cryptopay.core.identity.service import Accounts, check_password, valid_email
from cryptopay.core.ports.identity import RateLimiter
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.sms import SmsMessage, SmsSender

__all__ = ["RESET_MAILS_PER_WINDOW", "RESET_MAIL_WINDOW_SECONDS", "PasswordResets"]

log = logging.getLogger(__name__)

RESET_MAILS_PER_WINDOW = 3  # reset emails (a link or a "no account" note) to one address per window (R9-8)
RESET_MAIL_WINDOW_SECONDS = 3600


def _fingerprint(user: User) -> str:
    return hash_secret(f"{user.password_hash}:{user.session_version}")[:32]


def _unproven_wallet_email(user: User) -> bool:
    """The email of an account signed up by its phone (a wallet), not yet proven from inside it: a contact, never a
    way in (review6 F7). An account registered by its email is that email's, proven by its first reset as before."""
    return signed_up_by_phone(user) and user.email_verified_at is None


_RESET_SMS = (
    "Your cryptopay password was just reset and every login ended. If it was not you, contact support at once. / "
    "Nenosiri lako la cryptopay limebadilishwa sasa hivi. Kama si wewe, wasiliana na huduma kwa wateja mara moja."
)


@attrs.define
class PasswordResets:
    """Request and complete password resets."""

    accounts: Accounts
    notifier: Notifier
    link: str = "http://127.0.0.1:8000/reset-password#token="  # the reset page; the token is appended
    ttl: timedelta = timedelta(minutes=30)
    reclaim: Reclaim | None = None  # run at the account's first proof of its email
    sms: SmsSender | None = None  # tells an account's phone of a reset; None: the skip is audited
    limiter: RateLimiter | None = None  # the per-address mail cap's count (None: uncapped, a test's or a shell's)
    mails_per_window: int = RESET_MAILS_PER_WINDOW
    mail_window_seconds: int = RESET_MAIL_WINDOW_SECONDS

    def request(self, email: str) -> None:
        """Email the address a reset link if it has an account, else a note that it has none: the same steps
        (look-up, token signed, one email, one audit record) either way. A malformed address is ``InvalidInput``."""
        address = valid_email(email)
        user = self.accounts.users.by_email(address)
        expires_at = self.accounts.clock.now() + self.ttl
        subject = user.id if user is not None else "unknown"
        fingerprint = _fingerprint(user) if user is not None else hash_secret(address)[:32]
        token = self.accounts.signer.sign_reset(subject, fingerprint, expires_at=expires_at)
        if not self._may_mail(address):  # reviewer9 R9-8: the same answer, no email past the cap, audited
            self.accounts.audit.append(
                AuditEvent("anonymous", "auth.password_reset_mail_capped", f"user:{subject}", self.accounts.clock.now())
            )
            return
        if user is None:
            self.notifier.send(Notification(address, "About resetting a cryptopay password", self._no_account()))
            self.accounts.audit.append(
                AuditEvent("anonymous", "auth.password_reset_of_no_account", "user:none", self.accounts.clock.now())
            )
            return
        if _unproven_wallet_email(user):
            self.notifier.send(Notification(address, "About resetting a cryptopay password", self._unproven()))
            self._record(user, "auth.password_reset_of_unproven_email")
            return
        minutes = int(self.ttl.total_seconds() // 60)
        body = (
            f"Someone asked to reset the password of this account.\n\nReset it within {minutes} minutes: "
            f"{self.link}{token}\n\nIf it was not you, ignore this message; your password stays as it is."
        )
        self.notifier.send(Notification(address, "Reset your cryptopay password", body))
        self._record(user, "auth.password_reset_requested")

    def _may_mail(self, address: str) -> bool:
        """Whether ``address`` may get one more reset email (a link or a note) this window, as registration's
        "someone tried" mails are capped (``auth.register_mail_capped``): counted per address whether or not it has
        an account, under its hash (no address in the limiter's store)."""
        if self.limiter is None:
            return True
        key = f"reset-mail:{hash_secret(address)[:32]}"
        try:
            hit = self.limiter.hit(key, limit=self.mails_per_window, window_seconds=self.mail_window_seconds)
        except Unavailable:  # the limiter's store is away: no mail (the stricter side), the same 202
            log.warning("password reset: the mail cap's limiter is unavailable; no email this time")
            return False
        return hit.allowed

    def _no_account(self) -> str:
        return (
            "Someone asked to reset the password of a cryptopay account with this email, but it has none, so no "
            "link was made.\n\nIf it was you, you may have signed up with another email or by phone. If not, you "
            "need do nothing."
        )

    def _unproven(self) -> str:
        return (
            "Someone asked to reset the password of a cryptopay wallet with this email, but its owner has not "
            "confirmed the address, so no link was made.\n\nIf it is your wallet, log in and confirm your email from "
            "the link we sent (or ask for a new one), or contact support. If not, you need do nothing."
        )

    def reset(self, token: str, new_password: str) -> User:
        """Set a new password with a reset token, and end every session of the account; at the account's first
        proof of its email, also secure what it set up before (``reclaim``)."""
        subject, fingerprint = self.accounts.signer.verify_reset(token, now=self.accounts.clock.now())
        user = self.accounts.users.get(subject)
        if user is None or not secrets_equal(fingerprint, _fingerprint(user)) or _unproven_wallet_email(user):
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
        self._tell_phone(user)
        return user

    def _tell_phone(self, user: User) -> None:
        """SMS the account's phone that its password was reset (a wallet's owner learns of a takeover at once)."""
        if user.phone is None:
            return
        if self.sms is None:
            self._record(user, "auth.password_reset_sms_skipped")
            return
        try:
            self.sms.send(SmsMessage(user.phone, _RESET_SMS))
        except Exception as error:
            self._record(user, "auth.password_reset_sms_failed", reason=type(error).__name__)
            return
        self._record(user, "auth.password_reset_sms_sent")

    def _record(self, user: User, action: str, **details: str) -> None:
        at = self.accounts.clock.now()
        self.accounts.audit.append(AuditEvent(f"user:{user.id}", action, f"user:{user.id}", at, details))
