"""Operator actions on accounts: appoint an admin, change a role, name a staff account. Each is audited with the
operator as actor.

An account made staff (created as an admin, or given a staff role) keeps who did it and when (``User.appointed_by``,
``appointed_at``): four-eyes refuses an approval by two officers one person appointed, and by an officer appointed
less than the cool-off ago (``compliance.four_eyes``, review10 R10-8).

Roles are reloaded on every request, so a change applies to open sessions at once (in this process; other
processes within the session cache's few seconds). Staff roles must then enrol a second factor before anything else.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.identity.model import Role, User
from cryptopay.core.identity.service import check_password, valid_email
from cryptopay.core.identity.sessions import SessionStates
from cryptopay.core.identity.teams import Teams
from cryptopay.core.ports.identity import AuditTrail, PasswordHasher, UserRepository
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.text import TextKind, checked_text

__all__ = ["HoldsWallet", "OnMerchantTeam", "UserAdmin", "staff_name"]


class HoldsWallet(Conflict):
    """The account holds a personal wallet: another role would strand it (its routes need the personal role) and
    hide it from compliance, so its role stays (close or move the wallet first)."""

    code = "holds_wallet"


class OnMerchantTeam(Conflict):
    """The account owns a merchant or is on a merchant's team: a staff role (admin, compliance) would let it review,
    unfreeze or approve its own merchant (outside review R12), so it is refused (leave the team, or hand the merchant
    over, first)."""

    code = "on_merchant_team"


def staff_name(name: str) -> str:
    """A staff account's name: acceptable name text (``checked_text``), spaces collapsed, a first and a last name
    (two words or more: the STR's reporting person has both), at most 200 characters; else ``InvalidInput``.

    >>> staff_name("  Ann   Wambui ")
    'Ann Wambui'
    """
    collapsed = " ".join(checked_text(name, field="name", kind=TextKind.NAME).split())
    if len(collapsed.split()) < 2 or len(collapsed) > 200:
        raise InvalidInput("a first and a last name (two words or more, at most 200 characters)", field="name")
    return collapsed


@attrs.define
class UserAdmin:
    users: UserRepository
    hasher: PasswordHasher
    audit: AuditTrail
    clock: Clock
    ids: IdGenerator
    sessions: SessionStates | None = None  # an API process forgets its cached state of the changed user at once
    # whether the user holds a personal wallet (``Wallets.holds``); None where no wallets are wired
    holds_wallet: Callable[[str], bool] | None = None
    # the merchant teams (``Teams.merchant_of``, ``Teams.take_back``); None where no merchants are wired
    teams: Callable[[], Teams] | None = None

    def create_admin(self, email: str, password: str, *, actor: str, display_name: str | None = None) -> User:
        """A new admin account (it must enrol a second factor at its first login); ``display_name``, the person's
        first and last name (``staff_name``), is what an STR names its reporting officer by."""
        email = valid_email(email)
        check_password(password, email)
        if display_name is not None:
            display_name = staff_name(display_name)
        if self.users.by_email(email) is not None:
            raise Conflict("an account with this email already exists", field="email")
        now = self.clock.now()
        user = User(self.ids.new_id("usr"), email, self.hasher.hash(password), Role.ADMIN, now, display_name)
        user.appointed_by, user.appointed_at = actor, now  # four-eyes reads who made it staff
        self.users.add(user)
        self._record(actor, "user.admin_created", user, role=Role.ADMIN.value)
        return user

    def set_role(self, email: str, role: Role, *, actor: str) -> User:
        """Give an existing account another role; ``NotFound`` for an unknown email, ``HoldsWallet`` (409, exit 4)
        for an account holding a personal wallet, ``OnMerchantTeam`` (409, exit 4) for a staff role given to an
        account that owns a merchant or is on a merchant's team. A role that leaves merchant takes back what the
        account set up for its merchant (its API keys revoked, its webhook endpoints disabled: ``Teams.take_back``,
        reason ``role_changed``), as a removal from the team does."""
        user = self.users.by_email(email.strip().lower())
        if user is None:
            raise NotFound(f"no account with the email {email.strip()}")
        before = user.role
        if before is role:
            return user
        if self.holds_wallet is not None and self.holds_wallet(user.id):
            raise HoldsWallet(f"{user.id} holds a personal wallet: its role stays {before.value}")
        teams = self.teams() if self.teams is not None else None
        merchant_id = teams.merchant_of(user.id) if teams is not None else None
        if merchant_id is not None and role.needs_two_factor:
            raise OnMerchantTeam(
                f"{user.id} acts for {merchant_id}: a {role.value} may not act for a merchant it would review; "
                "leave the team (or hand the merchant over) first"
            )
        user.role = role
        if role.needs_two_factor:  # made staff (or given another staff role): four-eyes reads by whom, and when
            user.appointed_by, user.appointed_at = actor, self.clock.now()
        self.users.update(user)
        if self.sessions is not None:
            self.sessions.forget_user(user.id)
        self._record(actor, "user.role_changed", user, before=before.value, after=role.value)
        if teams is not None and merchant_id is not None and role is not Role.MERCHANT:
            teams.take_back(merchant_id, user.id, actor=actor, reason="role_changed")
        return user

    def set_name(self, email: str, name: str, *, actor: str) -> User:
        """Give an account its person's name (``User.display_name``: first and last, ``staff_name``), what an STR's
        reporting person is named by (review14 R14-5); ``NotFound`` for an unknown email. Audited
        ``user.name_set`` (the name itself is personal data and stays out of the audit trail)."""
        checked = staff_name(name)
        user = self.users.by_email(email.strip().lower())
        if user is None:
            raise NotFound(f"no account with the email {email.strip()}")
        if user.display_name == checked:
            return user
        user.display_name = checked
        self.users.update(user)
        self._record(actor, "user.name_set", user)
        return user

    def _record(self, actor: str, action: str, user: User, **details: str) -> None:
        self.audit.append(AuditEvent(actor, action, f"user:{user.id}", self.clock.now(), details))
