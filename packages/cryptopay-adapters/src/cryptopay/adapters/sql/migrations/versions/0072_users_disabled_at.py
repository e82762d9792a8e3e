"""Accounts: when an account was disabled (``users.disabled_at``).

Revision ID: 0072
Revises: 0064
Create Date: 2026-12-06

An account is disabled when the address's owner releases its email ("this wasn't me", audited
``auth.email_released``) or when retention erases its profile (audited ``privacy.anonymised``: rule ``profile`` on the
user, or ``merchant_people`` on a merchant it owned or served, its password made unusable, ``!erased``). Rows disabled
before this revision get the time the audit log gives them (the earliest such record); the rest stay NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0072"
down_revision = "0064"
branch_labels = None
depends_on = None

# The release or the profile's erasure of this very user.
_OWN = """
UPDATE users SET disabled_at = (
    SELECT min(a.at) FROM audit_log a
    WHERE a.subject = 'user:' || users.id
      AND (a.action = 'auth.email_released'
           OR (a.action = 'privacy.anonymised' AND a.details LIKE '%profile%' AND users.password_hash = '!erased'))
)
WHERE disabled_at IS NULL
"""
# An erased profile of a merchant's owner or member (its merchant's record names the merchant, not the person).
_MERCHANTS = """
UPDATE users SET disabled_at = (
    SELECT min(a.at) FROM audit_log a JOIN merchants m ON a.subject = 'merchant:' || m.id
    WHERE a.action = 'privacy.anonymised' AND a.details LIKE '%merchant_people%'
      AND (m.owner_user_id = users.id
           OR EXISTS (SELECT 1 FROM merchant_members t WHERE t.merchant_id = m.id AND t.user_id = users.id))
)
WHERE disabled_at IS NULL AND password_hash = '!erased'
"""


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("disabled_at", UtcDateTime))
    op.execute(_OWN)
    op.execute(_MERCHANTS)


def downgrade() -> None:
    # In place, not batch: SQLite (3.35 and later) drops a column itself, where a batch copy of ``users`` would be
    # refused while merchants' rows refer to it.
    op.drop_column("users", "disabled_at")
