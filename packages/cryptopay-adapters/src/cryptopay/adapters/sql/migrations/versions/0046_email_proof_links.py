"""Accounts: the pending email-proof link (``users.email_token_hash``, ``users.email_token_expires_at``).

Revision ID: 0046
Revises: 0048
Create Date: 2026-12-06

A new account is emailed a one-time link that proves its email (``cryptopay.core.identity.email_proof``); only the
token's SHA-256 is kept, with its expiry, until it is used or replaced. Existing accounts keep ``email_verified_at``
as it is: those that proved their email (a password reset) stay proven; the others start unproven, their API keys
and webhook endpoints keep working, and they must prove the email (a link sent on request, or a reset) before they
create keys or endpoints or set a payout destination.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0046"
down_revision = "0048"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("email_token_hash", sa.String(255)))
        users.add_column(sa.Column("email_token_expires_at", UtcDateTime))


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_column("email_token_expires_at")
        users.drop_column("email_token_hash")
