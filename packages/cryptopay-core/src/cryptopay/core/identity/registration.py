"""Registration by email that does not tell who has an account (review G3).

``EmailRegistrations.register`` answers alike for a new and an already registered email: the HTTP shell says
"check your email" (202) either way, and the email tells the truth to the address's owner only. A new address gets
its account and an email-proof link (``identity.email_proof``: confirm it logged in, or release the address if you
did not register); an address that has an account gets no new one, the same time spent on hashing, and an email
saying someone tried, audited ``auth.register_of_a_customer`` (with a new "this wasn't me" link while that account
has not proven the email: the one registering may be the address's owner). The wallet's phone sign-up does the same
by SMS (``wallets.signup``).

Mails per address are capped (review4 R14, an email bomb under the platform's sender): at most
``REGISTER_MAILS_PER_WINDOW`` "someone tried" emails per address per ``REGISTER_MAIL_WINDOW_SECONDS``, counted through
the rate limiter port (Redis when configured: every API process shares the count), whatever the client's address.
Past it the answer is the same 202 (the shell's), the hash the same time spent, and the attempt is audited
``auth.register_mail_capped`` instead of mailed. A new address's proof mail goes once anyway (the account exists
afterwards).
"""

from __future__ import annotations

import logging

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Conflict, Unavailable
from cryptopay.core.identity.email_proof import EmailProofs, signed_up_by_phone
from cryptopay.core.identity.model import Role, User
from cryptopay.core.identity.service import Accounts, check_password, valid_email
from cryptopay.core.ports.identity import RateLimiter
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.text import TextKind, checked_text

log = logging.getLogger(__name__)

__all__ = ["REGISTER_MAILS_PER_WINDOW", "REGISTER_MAIL_WINDOW_SECONDS", "EmailRegistrations"]

REGISTER_MAILS_PER_WINDOW = 3  # "someone tried to register with your email" mails to one address per window
REGISTER_MAIL_WINDOW_SECONDS = 3600


@attrs.define
class EmailRegistrations:
    """Register by email; ``proofs`` emails a new account its proof link, ``reset_page`` is where the emails send
    someone who wants the account back."""

    accounts: Accounts
    notifier: Notifier
    proofs: EmailProofs
    reset_page: str = "http://127.0.0.1:8000/reset-password"
    limiter: RateLimiter | None = None  # the per-address mail cap's count (None: uncapped, a test's or a shell's)
    mails_per_window: int = REGISTER_MAILS_PER_WINDOW
    mail_window_seconds: int = REGISTER_MAIL_WINDOW_SECONDS

    def register(self, email: str, password: str, *, role: Role, display_name: str | None = None) -> User | None:
        """The new user, or None when the email already has an account (its owner is emailed instead).

        Bad input (the email, the password, the display name) is refused alike for both, before the account is
        looked up.
        """
        address = valid_email(email)
        check_password(password, address)
        if display_name is not None:
            checked_text(display_name, field="display_name", kind=TextKind.NAME)
        existing = self.accounts.users.by_email(address)
        if existing is None:
            try:
                user = self.accounts.register(address, password, role=role, display_name=display_name)
            except Conflict:  # registered meanwhile by a concurrent request
                existing = self.accounts.users.by_email(address)
            else:
                self.proofs.send(user)
                return user
        else:
            self.accounts.hasher.hash(password)  # the same time as a new account's hashing
        if existing is not None:
            at = self.accounts.clock.now()
            if self._may_mail(existing):
                body = self._taken() + self._release(existing)
                self.notifier.send(Notification(address, "Someone tried to register with your email", body))
                event = AuditEvent("anonymous", "auth.register_of_a_customer", f"user:{existing.id}", at, {})
            else:
                event = AuditEvent("anonymous", "auth.register_mail_capped", f"user:{existing.id}", at, {})
            self.accounts.audit.append(event)
        return None

    def _may_mail(self, existing: User) -> bool:
        """Whether the address of ``existing`` may get one more "someone tried" mail this window, counted per account
        (its id in the key: no address in the limiter's store)."""
        if self.limiter is None:
            return True
        key = f"register-mail:{existing.id}"
        try:
            hit = self.limiter.hit(key, limit=self.mails_per_window, window_seconds=self.mail_window_seconds)
        except Unavailable:  # the limiter's store is away: no mail (the stricter side), and the same answer as a
            # new address's, never a 503 only a taken address gets (lastread A5: an "account exists" oracle)
            log.warning("register: the mail cap's limiter is unavailable; the owner is not mailed this time")
            return False
        return hit.allowed

    def _release(self, existing: User) -> str:
        """For an account that never proved the email: the owner, who may be the one registering now, can release
        the address instead of taking over a stranger's account by a reset (``identity.email_proof``)."""
        link = self.proofs.release_link(existing)
        if link is None:
            return ""
        if signed_up_by_phone(existing):  # a wallet's contact address: releasing it leaves the wallet (revpass6 P5)
            return (
                "\n\nA cryptopay wallet gave this email as its contact and never confirmed it. If it is not yours, "
                f"remove it from that wallet (no login needed; the wallet stays its owner's), then register: {link}"
            )
        return (
            "\n\nThat account never confirmed this email. If you did not create it, release your address (no login "
            f"needed): the account is disabled and you can register: {link}"
        )

    def _taken(self) -> str:
        return (
            "Someone tried to register a cryptopay account with this email, which already has one; "
            "none was created.\n\n"
            f"If it was you, log in, or reset your password at {self.reset_page}. If not, you need do nothing."
        )
