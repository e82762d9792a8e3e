"""Personal wallets: purchases of USDT with M-Pesa (STK Push), recorded before the prompt is sent.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_buys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_query_at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_wallet_buys_user", "wallet_buys", ["user_id", "id"])
    op.create_index("ix_wallet_buys_due", "wallet_buys", ["state", "next_query_at"])


def downgrade() -> None:
    op.drop_index("ix_wallet_buys_due", table_name="wallet_buys")
    op.drop_index("ix_wallet_buys_user", table_name="wallet_buys")
    op.drop_table("wallet_buys")
