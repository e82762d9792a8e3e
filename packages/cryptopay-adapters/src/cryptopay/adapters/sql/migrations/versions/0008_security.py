"""Security: session versions, TOTP second factors and recovery codes on users; payout destination cool-off.

``users.session_version`` ends every session of an account at once (compared on each request);
``merchants.destination_ready_at`` holds payouts to a newly set destination until then.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("session_version", sa.Integer, nullable=False, server_default="0"))
        users.add_column(sa.Column("totp_secret", sa.Text))  # sealed by the key vault
        users.add_column(sa.Column("totp_confirmed_at", UtcDateTime))
        users.add_column(sa.Column("totp_last_step", sa.BigInteger, nullable=False, server_default="0"))
        users.add_column(sa.Column("recovery_code_hashes", JsonText))
    with op.batch_alter_table("merchants") as merchants:
        merchants.add_column(sa.Column("destination_ready_at", UtcDateTime))
    op.create_index("ix_refresh_tokens_user", "refresh_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_user", table_name="refresh_tokens")
    with op.batch_alter_table("merchants") as merchants:
        merchants.drop_column("destination_ready_at")
    with op.batch_alter_table("users") as users:
        for name in ("recovery_code_hashes", "totp_last_step", "totp_confirmed_at", "totp_secret", "session_version"):
            users.drop_column(name)
