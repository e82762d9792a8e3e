"""Identity model: users and their roles, refresh-token families, merchants, API keys and the resolved principal.

A principal is whoever is calling: a logged-in user or a merchant's API key. Its tenant is the merchant it
acts for; a principal only ever sees its own tenant's objects, except an admin, who sees every tenant.

>>> key = Principal(kind=PrincipalKind.API_KEY, id="key_1", role=Role.MERCHANT, merchant_id="mer_1",
...                 scopes=frozenset({"invoices:read"}))
>>> key.has_scope("invoices:read"), key.has_scope("invoices:write"), key.can_access("mer_2")
(True, False, False)
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs
from cryptopay.core.errors import CryptopayError, Refused, RowChanged
from cryptopay.core.settlement.model import SettlementProfile

__all__ = [
    "MERCHANT_SCOPES",
    "TEAM_SCOPES",
    "AccountChanged",
    "ApiKey",
    "Appointment",
    "EnrolmentRequired",
    "Forbidden",
    "IdempotencyEntry",
    "Merchant",
    "MerchantChanged",
    "Principal",
    "PrincipalKind",
    "RateDecision",
    "RateLimited",
    "RefreshToken",
    "Role",
    "StepUpRequired",
    "StoredResponse",
    "TeamRole",
    "TwoFactorRequired",
    "Unauthenticated",
    "User",
]

MERCHANT_SCOPES = frozenset(
    {
        "invoices:read",
        "invoices:write",
        "payouts:read",
        "payouts:write",
        "settlements:read",
        "settlements:write",
        "reports:read",  # sales, fees and settlements reports
        "merchant:read",  # the merchant profile, with its payout destination
        "fx:quote",  # lock (and persist) FX quotes
        "webhooks:read",  # endpoints and the delivery log
        "webhooks:write",  # endpoints (creation also needs a user's step-up) and redelivery
        "refunds:read",
        "refunds:write",  # send funds an invoice received back to a customer (users also need a step-up)
        "payment_links:read",
        "payment_links:write",
    }
)


class Unauthenticated(CryptopayError):
    """No valid credentials were presented (missing, expired, revoked or wrong)."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 7


class AccountChanged(RowChanged):
    """The account changed since it was read (``UserRepository.update``, review11 R11-1)."""

    def __init__(self, user_id: str) -> None:
        super().__init__("account", user_id)
        self.user_id = user_id


class MerchantChanged(RowChanged):
    """The merchant changed since it was read (another request, or an operator: a close, a reclaim's hold;
    ``MerchantRepository.update``, review11 R11-3)."""

    def __init__(self, merchant_id: str) -> None:
        super().__init__("merchant", merchant_id)
        self.merchant_id = merchant_id


class Forbidden(Refused):
    """The caller is known but its role or scopes do not allow this operation."""

    code = "forbidden"
    http_status = 403


class MerchantClosed(Forbidden):
    """The merchant was closed by an operator (``close_merchant``): it takes no new business. Every write of its
    logins and API keys (invoices, payment links, refunds, keys, webhooks, team, store) is refused; reads go on."""

    code = "merchant_closed"


def check_merchant_open(merchant: Merchant | None) -> None:
    """``MerchantClosed`` (403 ``merchant_closed``) when ``merchant`` was closed; nothing for an open one (or None)."""
    if merchant is not None:
        check_not_closed(merchant.id, merchant.closed_at)


def check_not_closed(merchant_id: str, closed_at: datetime | None) -> None:
    """``MerchantClosed`` when the merchant's ``closed_at`` is set (``check_merchant_open`` given only the column,
    as a read of the merchant's closing with another row has it: ``StoreSettingsRepository.with_closing``).

    >>> from datetime import UTC
    >>> check_not_closed("mer_1", None)
    >>> try:
    ...     check_not_closed("mer_1", datetime(2026, 12, 7, tzinfo=UTC))
    ... except MerchantClosed as refused:
    ...     print(refused.code, refused.message)
    merchant_closed merchant mer_1 was closed on 2026-12-07: it takes no new business
    """
    if closed_at is not None:
        raise MerchantClosed(
            f"merchant {merchant_id} was closed on {closed_at.date().isoformat()}: it takes no new business"
        )


class EnrolmentRequired(Forbidden):
    """A staff account must enrol a second factor (``/v1/auth/2fa``) before it may do anything else."""

    code = "two_factor_enrolment_required"


class RateLimited(Refused):
    """Too many requests from one principal on one route in the current window."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class StepUpRequired(CryptopayError):
    """The operation redirects money or credentials: it needs a fresh password or code (``/v1/auth/step-up``)."""

    code = "step_up_required"
    http_status = 403
    exit_code = 7


class TwoFactorRequired(Unauthenticated):
    """The account has two-factor authentication: the login needs a one-time code (or a recovery code)."""

    code = "two_factor_required"


class Role(enum.Enum):
    PERSONAL = "personal"
    MERCHANT = "merchant"
    ADMIN = "admin"
    COMPLIANCE = "compliance"

    @property
    def needs_two_factor(self) -> bool:
        """Staff roles must log in with a second factor; others may choose to."""
        return self in (Role.ADMIN, Role.COMPLIANCE)


class TeamRole(enum.Enum):
    """A user's role in a merchant's team (see ``TEAM_SCOPES`` and ``cryptopay.core.identity.teams``)."""

    OWNER = "owner"  # everything, and the only one who changes the payout destination or hands ownership over
    ADMIN = "admin"  # runs the shop: keys, webhooks, store, members (never the owner)
    FINANCE = "finance"  # money: invoices, refunds, payment links, settlements, payouts, reports
    STAFF = "staff"  # reads invoices, their refunds and the payment links; changes nothing

    @property
    def granted_with_step_up(self) -> bool:
        """Giving this role (an invitation, a role change) needs a fresh step-up of the one who gives it: an admin
        mints API keys and webhooks, finance moves money; a stolen session must not make itself a lasting login.

        >>> [r.value for r in TeamRole if r.granted_with_step_up]
        ['owner', 'admin', 'finance']
        """
        return self is not TeamRole.STAFF


TEAM_SCOPES: dict[TeamRole, frozenset[str]] = {
    TeamRole.OWNER: MERCHANT_SCOPES,
    TeamRole.ADMIN: MERCHANT_SCOPES,
    TeamRole.FINANCE: frozenset(
        {
            "invoices:read",
            "invoices:write",
            "payouts:read",
            "payouts:write",
            "settlements:read",
            "settlements:write",
            "reports:read",
            "merchant:read",
            "fx:quote",
            "refunds:read",
            "refunds:write",  # still with a step-up, as for every user session
            "payment_links:read",
            "payment_links:write",
        }
    ),
    TeamRole.STAFF: frozenset({"invoices:read", "refunds:read", "payment_links:read"}),
}


class PrincipalKind(enum.Enum):
    USER = "user"
    API_KEY = "api_key"


@attrs.frozen
class Appointment:
    """Who made an account staff (created it as an admin, or last gave it a staff role) and when."""

    by: str  # as the audit trail names them: ``ops:<login>``, ``user:<id>``
    at: datetime


@attrs.define
class User:
    """A person who logs in; ``password_hash`` is an argon2 (or other PasswordHasher) hash, never the password.

    Merchants and staff log in by email; a personal wallet signs up with a verified phone (``phone``, wire form
    ``2547…``) and may have no email at all.
    """

    id: str
    email: str | None
    password_hash: str = attrs.field(repr=False)
    role: Role
    created_at: datetime
    display_name: str | None = None
    session_version: int = 0  # bumped to end every session of the account at once (password reset, role change)
    totp_secret: str | None = attrs.field(default=None, repr=False)  # set at enrolment, confirmed by a first code
    totp_confirmed_at: datetime | None = None
    totp_last_step: int = 0  # the last accepted TOTP time step: a code is never accepted twice
    recovery_code_hashes: tuple[str, ...] = attrs.field(default=(), repr=False)
    phone: str | None = None  # verified at sign-up (personal wallets); unique
    email_verified_at: datetime | None = None  # when the account proved it owns ``email`` (``identity.email_proof``)
    # The pending email-proof link's token: only its SHA-256 is kept, until it is used or ``email_token_expires_at``.
    email_token_hash: str | None = attrs.field(default=None, repr=False)
    email_token_expires_at: datetime | None = None
    # When the account was disabled: its email released by the address's owner (``email_proof.release``) or its
    # profile erased (``privacy.retention``); nobody logs in to it again. None: usable (or disabled before 0072
    # where the audit log does not say when).
    disabled_at: datetime | None = None
    # Who made the account staff (created it as an admin, or last gave it a staff role: ``identity.admin``), as the
    # audit trail names them, and when: four-eyes refuses two officers one person appointed (``compliance.four_eyes``)
    appointed_by: str | None = None
    appointed_at: datetime | None = None
    # The stored row's version as read: ``UserRepository.update`` writes only over that version and bumps it, so a
    # write from a stale copy (a password change hashing while an operator demoted the account) is refused instead
    # of silently undoing the other (review11 R11-1). Not part of equality: it says when, not what.
    row_version: int = attrs.field(default=0, eq=False, repr=False)

    @property
    def appointment(self) -> Appointment | None:
        """Its appointment to staff (None: none on file)."""
        if self.appointed_by is None or self.appointed_at is None:
            return None
        return Appointment(self.appointed_by, self.appointed_at)

    @property
    def login_name(self) -> str:
        """What the person logs in with: the email, or the phone of a wallet without one."""
        return self.email or self.phone or self.id

    @property
    def two_factor(self) -> bool:
        """True once a TOTP enrolment was confirmed."""
        return self.totp_confirmed_at is not None and self.totp_secret is not None


@attrs.define
class RefreshToken:
    """One refresh token of a login's rotating family; only a SHA-256 hash of the token is kept."""

    id: str
    family_id: str
    user_id: str
    token_hash: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.rotated_at is None and self.revoked_at is None and now < self.expires_at


@attrs.define
class Merchant:
    """A business that takes payments; owned by one user with the merchant role."""

    id: str
    owner_user_id: str
    business_name: str
    settlement: SettlementProfile
    created_at: datetime
    updated_at: datetime
    destination_ready_at: datetime | None = None  # a changed payout destination cools off until then
    closed_at: datetime | None = None  # the relationship ended (an operator closed it); retention counts from here
    # The stored row's version as read: ``MerchantRepository.update`` writes only over that version and bumps it, so
    # a write from a stale copy (an owner's rename read before an operator's close) is refused instead of undoing the
    # other (review11 R11-3, as ``User.row_version``). Not part of equality: it says when, not what.
    row_version: int = attrs.field(default=0, eq=False, repr=False)

    def destination_cooling(self, now: datetime) -> bool:
        """True while a newly set payout destination may not receive money yet."""
        return self.destination_ready_at is not None and now < self.destination_ready_at


@attrs.define
class ApiKey:
    """A merchant's API key: the public id is visible, only a SHA-256 hash of the secret is stored."""

    id: str
    merchant_id: str
    name: str
    scopes: frozenset[str]
    secret_hash: str = attrs.field(repr=False)
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@attrs.frozen
class Principal:
    """The authenticated caller of one request."""

    kind: PrincipalKind
    id: str
    role: Role
    merchant_id: str | None = None
    scopes: frozenset[str] = frozenset()
    session_id: str | None = None  # a user's login (refresh-token family); step-up proofs are bound to it
    enrolment_only: bool = False  # a staff login without 2FA yet: it may only enrol a second factor
    team_role: TeamRole | None = None  # a merchant user's role in its merchant's team (owner for the owner)

    def has_scope(self, scope: str) -> bool:
        """Users have every merchant scope their role allows (admins all; a team member its team role's);
        API keys only the ones granted."""
        if self.kind is PrincipalKind.USER:
            if self.role is Role.MERCHANT and self.team_role is not None:
                return scope in TEAM_SCOPES[self.team_role]
            return self.role in (Role.MERCHANT, Role.ADMIN)
        return scope in self.scopes

    def can_access(self, merchant_id: str | None) -> bool:
        """True for an admin or the tenant itself."""
        return self.role is Role.ADMIN or (merchant_id is not None and merchant_id == self.merchant_id)

    @property
    def idempotency_scope(self) -> str:
        return f"{self.kind.value}:{self.id}"


@attrs.frozen
class StoredResponse:
    """The response first given to an idempotent request, replayed verbatim to retries."""

    status: int
    body: str
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@attrs.define
class IdempotencyEntry:
    """A claimed ``Idempotency-Key`` of one principal: in flight until ``response`` is set."""

    scope: str
    key: str
    request_hash: str
    created_at: datetime
    response: StoredResponse | None = None


@attrs.frozen
class RateDecision:
    """The outcome of counting one request against a limit."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window resets
