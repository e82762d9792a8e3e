"""Accounts: ``users.email_verified_at``; webhook endpoints: ``webhook_endpoints.created_by``.

Revision ID: 0043
Revises: 0041
Create Date: 2026-12-06

``email_verified_at`` is when the account first proved it owns its email (a password reset through the emailed
link). Until then, whatever the account set up may be a squatter's (account pre-hijacking): the first proof revokes
the merchant's API keys, disables its webhook endpoints and holds its payout destination for review
(``cryptopay.core.identity.reclaim``). Existing accounts start unproven (NULL): their first reset does the same.

``created_by`` is the user who added a webhook endpoint (NULL for endpoints made before, and by API keys): removing
or demoting that member disables it, as for their API keys.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0043"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("email_verified_at", UtcDateTime))
    with op.batch_alter_table("webhook_endpoints") as endpoints:
        endpoints.add_column(sa.Column("created_by", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as endpoints:
        endpoints.drop_column("created_by")
    with op.batch_alter_table("users") as users:
        users.drop_column("email_verified_at")
