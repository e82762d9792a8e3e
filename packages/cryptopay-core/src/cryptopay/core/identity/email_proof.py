"""Proving an account's email at registration (review G11), and letting the address's owner release it.

Registration does not prove that the caller owns the email (account pre-hijacking, ``identity.reclaim``). A new
account is emailed a one-time link (``EmailProofs.send``: 24 hours; only the token's SHA-256 is kept; a resend
replaces it). The link proves the email only together with a logged-in session of that very account *and* its
password typed again on the page (``verify``), because of the trap a link alone would set:

- a squatter who registered someone else's address has the password but never the emailed token;
- the address's owner has the token but not the squatter's password: a link clicked in a browser the squatter
  logged into its own account (login CSRF, a shared computer) still proves nothing for the squatter.

The same email carries a "this wasn't me" link (``release``) that needs the token alone: the address's owner, who
cannot log in, disables the unproven account and frees the address (the email is removed from it, every session
ends, what its merchant set up is revoked and its destination held as at a reclaim; ``User.disabled_at`` records when),
audited ``auth.email_released``.
A proven account cannot be released: whoever proved it held both the password and the mailbox. An account signed up
by its phone (a personal wallet, ``signed_up_by_phone``) is the phone's, its email only a contact typed at sign-up: a
release removes the address from it and nothing else (the wallet, its sessions and its money stay its owner's),
audited ``auth.email_released`` with ``account=kept`` (revpass6 P5: a typo'd address's holder, pressing "this wasn't
me" as the mail asked, disabled the wallet and locked its owner out of their money).

Until its email is proven, a merchant user may not set a payout destination (create its merchant, change the
destination), create API keys or add webhook endpoints (``require_proven_email``: 403 ``email_unverified``).
Accounts without an email (a personal wallet signed up by phone) and staff an operator appointed are not asked; a
first password reset proves the email too (``identity.recovery``), and so does accepting a team invitation with the
password typed again (``identity.teams``: the invitation's token went by email to that very address, and the same
trap is closed the same way). API keys made before this rule keep working.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Refused
from cryptopay.core.identity.credentials import hash_secret, new_secret, secrets_equal
from cryptopay.core.identity.model import Forbidden, RateLimited, Role, StepUpRequired, Unauthenticated, User
from cryptopay.core.identity.reclaim import Reclaim
from cryptopay.core.identity.service import Accounts
from cryptopay.core.ports.identity import AuditTrail, UserRepository
from cryptopay.core.ports.notifications import Notification, Notifier

__all__ = [
    "EmailLinkInvalid",
    "EmailProofs",
    "EmailUnverified",
    "needs_proven_email",
    "prove_email",
    "require_proven_email",
    "signed_up_by_phone",
]


class EmailUnverified(Forbidden):
    """The account has not proven its email yet: open the emailed link (or ask for a new one) first."""

    code = "email_unverified"


class EmailLinkInvalid(Refused):
    """The email link's token is unknown, expired, already used, or for another account."""

    code = "email_link_invalid"
    http_status = 422


def needs_proven_email(user: User) -> bool:
    """True for a merchant user whose email is not proven yet.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 12, 6, tzinfo=timezone.utc)
    >>> needs_proven_email(User("usr_1", "a@duka.co.ke", "h", Role.MERCHANT, at))
    True
    >>> needs_proven_email(User("usr_2", None, "h", Role.PERSONAL, at, phone="254712345678"))
    False
    """
    return user.role is Role.MERCHANT and user.email is not None and user.email_verified_at is None


def signed_up_by_phone(user: User) -> bool:
    """Whether ``user`` signed up by its phone (a personal wallet): the phone is its identity, an email it gave only
    a contact (never a way in, review6 F7; never a way to disable it, revpass6 P5).

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 12, 6, tzinfo=timezone.utc)
    >>> wallet = User("usr_2", "typo@example.co.ke", "h", Role.PERSONAL, at, phone="254712345678")
    >>> signed_up_by_phone(wallet), signed_up_by_phone(User("usr_1", "a@duka.co.ke", "h", Role.MERCHANT, at))
    (True, False)
    """
    return user.phone is not None


def require_proven_email(user: User) -> None:
    """``EmailUnverified`` (403 ``email_unverified``) unless ``user`` may redirect money or credentials."""
    if needs_proven_email(user):
        raise EmailUnverified(
            "prove your email first: open the link we emailed you (POST /v1/auth/email/resend sends a new one)"
        )


def prove_email(user: User, users: UserRepository, audit: AuditTrail, at: datetime, **details: str) -> None:
    """Record that ``user`` proved its email ``at`` (its pending link stops working), audited ``auth.email_proven``
    with ``details`` (``via``: how); nothing for an account already proven or without an email."""
    if user.email is None or user.email_verified_at is not None:
        return
    user.email_verified_at = at
    user.email_token_hash = user.email_token_expires_at = None
    users.update(user)
    audit.append(AuditEvent(f"user:{user.id}", "auth.email_proven", f"user:{user.id}", at, details))


@attrs.define
class EmailProofs:
    """Send, resend, verify and release email-proof links (see the module)."""

    accounts: Accounts
    notifier: Notifier
    page: str = "http://127.0.0.1:8000/verify-email"  # the page the links open; the token follows in the fragment
    wallet_page: str | None = None  # where a wallet's proof link opens (the portal's login; None: ``page``)
    ttl: timedelta = timedelta(hours=24)
    resend_after: timedelta = timedelta(seconds=60)  # one link a minute at most, whatever the shell's limits
    reclaim: Reclaim | None = None  # what a release revokes and holds; None: the account is only disabled

    def send(self, user: User) -> None:
        """A new link for ``user`` (a previous one stops working), emailed to its address and audited."""
        if user.email is None or user.email_verified_at is not None:
            return
        token = self._issue(user)
        self.notifier.send(Notification(user.email, "Confirm your cryptopay email", self._body(token, user)))

    def release_link(self, user: User) -> str | None:
        """A new "this wasn't me" link for an unproven ``user`` (its previous link stops working), for an email that
        says more (someone registering the address again); None for a proven account or one without an email."""
        if user.email is None or user.email_verified_at is not None:
            return None
        return f"{self.page}/release#token={self._issue(user)}"

    def _issue(self, user: User) -> str:
        now = self.accounts.clock.now()
        token = f"{user.id}.{new_secret()}"
        user.email_token_hash, user.email_token_expires_at = hash_secret(token), now + self.ttl
        self.accounts.users.update(user)
        self._record(user, "auth.email_proof_sent", expires_at=(now + self.ttl).isoformat())
        return token

    def resend(self, user_id: str) -> None:
        """Send a new link to the logged-in account, at most one per ``resend_after``; nothing for a proven one."""
        user = self._user(user_id)
        sent_at = user.email_token_expires_at - self.ttl if user.email_token_expires_at else None
        now = self.accounts.clock.now()
        if sent_at is not None and now < sent_at + self.resend_after:
            wait = int((sent_at + self.resend_after - now).total_seconds()) + 1
            raise RateLimited(f"a link was sent moments ago; ask again in {wait} seconds", retry_after=wait)
        self.send(user)

    def verify(self, user_id: str, token: str, password: str) -> User:
        """Prove the email of the logged-in account ``user_id`` with the emailed ``token`` and its password."""
        user = self._user(user_id)
        if user.email_verified_at is not None:
            return user
        if not self.accounts.hasher.verify(user.password_hash, password):
            self._record(user, "auth.email_proof_failed", reason="password")
            raise StepUpRequired("the password is wrong")
        if not self._holds(user, token, self.accounts.clock.now()):
            self._record(user, "auth.email_proof_failed", reason="token")
            raise EmailLinkInvalid("this link is invalid, expired, used, or for another account: ask for a new one")
        prove_email(user, self.accounts.users, self.accounts.audit, self.accounts.clock.now(), via="link")
        return user

    def release(self, token: str) -> bool:
        """The "this wasn't me" link: disable the unproven account the token names and free its address; for an
        account signed up by its phone, only remove the address from it. Whether the account was disabled."""
        user = self.accounts.users.get(token.partition(".")[0]) if "." in token else None
        now = self.accounts.clock.now()
        proven = user is not None and user.email_verified_at is not None
        if user is None or user.email is None or proven or not self._holds(user, token, now):
            raise EmailLinkInvalid("this link is invalid, expired or used; the account may already be released")
        address = user.email
        if signed_up_by_phone(user):  # a wallet's contact address: the wallet stays its owner's (revpass6 P5)
            user.email = user.email_token_hash = user.email_token_expires_at = None
            self.accounts.users.update(user)
            details = {"account": "kept"}
            self.accounts.audit.append(
                AuditEvent("anonymous:email_owner", "auth.email_released", f"user:{user.id}", now, details)
            )
            self.notifier.send(Notification(address, "Your email was removed", _removed_contact()))
            return False
        user.email, user.disabled_at = None, now
        user.email_token_hash = user.email_token_expires_at = None
        self.accounts.users.update(user)
        actor = "anonymous:email_owner"
        self.accounts.end_all_sessions(user, actor=actor, reason="email released by its owner")
        if self.reclaim is not None:
            self.reclaim.release(user, actor=actor)
        self.accounts.audit.append(AuditEvent(actor, "auth.email_released", f"user:{user.id}", now, {}))
        self.notifier.send(Notification(address, "Your email was released", _released()))
        return True

    def _holds(self, user: User, token: str, now: datetime) -> bool:
        expires_at, stored = user.email_token_expires_at, user.email_token_hash
        if stored is None or expires_at is None or now >= expires_at:
            return False
        return token.partition(".")[0] == user.id and secrets_equal(stored, hash_secret(token))

    def _user(self, user_id: str) -> User:
        user = self.accounts.users.get(user_id)
        if user is None:
            raise Unauthenticated("log in again")
        return user

    def _body(self, token: str, user: User) -> str:
        hours = int(self.ttl.total_seconds() // 3600)
        if signed_up_by_phone(user):  # a wallet's contact address: releasing it removes it, the wallet stays
            confirm = self.wallet_page or self.page  # the portal's page: its login is the wallet's (revpass6 P6)
            return (
                "This email was given as the contact address of a cryptopay wallet.\n\n"
                f"If it was you, log in to your wallet and confirm this email within {hours} hours (you will be "
                f"asked for your password): {confirm}#token={token}\n\n"
                "If it was not you, remove your address from that wallet (the wallet stays its owner's). No login "
                f"needed: {self.page}/release#token={token}"
            )
        return (
            "A cryptopay account was created with this email.\n\n"
            f"If it was you, log in and confirm this email within {hours} hours (you will be asked for your "
            f"password): {self.page}#token={token}\n\n"
            "If it was not you, release your address: the account is disabled and you can register with it "
            f"yourself. No login needed: {self.page}/release#token={token}"
        )

    def _record(self, user: User, action: str, **details: str) -> None:
        at = self.accounts.clock.now()
        self.accounts.audit.append(AuditEvent(f"user:{user.id}", action, f"user:{user.id}", at, details))


def _released() -> str:
    return (
        "You told us that you did not create the cryptopay account registered with this email. We disabled it and "
        "removed your address from it: you can register with it yourself. If someone keeps doing this, contact "
        "support."
    )


def _removed_contact() -> str:
    return (
        "You told us that this email is not yours. We removed it from the cryptopay wallet it was typed into: it gets "
        "nothing more from us about that wallet, which stays its owner's. If it keeps happening, contact support."
    )
