"""Operator actions on accounts: appoint an admin, change a role. Each is audited with the operator as actor.

Roles are reloaded on every request, so a change applies to open sessions at once (in this process; other
processes within the session cache's few seconds). Staff roles must then enrol a second factor before anything else.
"""

from __future__ import annotations

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import NotFound
from cryptopay.core.identity.model import Role, User
from cryptopay.core.identity.service import Accounts

__all__ = ["UserAdmin"]


@attrs.define
class UserAdmin:
    accounts: Accounts

    def create_admin(self, email: str, password: str, *, actor: str, display_name: str | None = None) -> User:
        """A new admin account (it must enrol a second factor at its first login)."""
        user = self.accounts.register(email, password, role=Role.ADMIN, display_name=display_name)
        self._record(actor, "user.admin_created", user, role=Role.ADMIN.value)
        return user

    def set_role(self, email: str, role: Role, *, actor: str) -> User:
        """Give an existing account another role; ``NotFound`` for an unknown email."""
        user = self.accounts.users.by_email(email.strip().lower())
        if user is None:
            raise NotFound(f"no account with the email {email}")
        before = user.role
        if before is role:
            return user
        user.role = role
        self.accounts.users.update(user)
        self.accounts.sessions.forget_user(user.id)
        self._record(actor, "user.role_changed", user, before=before.value, after=role.value)
        return user

    def _record(self, actor: str, action: str, user: User, **details: str) -> None:
        at = self.accounts.clock.now()
        self.accounts.audit.append(AuditEvent(actor, action, f"user:{user.id}", at, details))
