"""Wallet withdrawals: crypto sent from a personal wallet to an outside address (held, cooled off, sent, confirmed).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "wallet_withdrawals",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("address_key", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("send_after", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
        sa.CheckConstraint("state IN ('requested','sent','confirmed','failed')", name="ck_wallet_withdrawals_state"),
    )
    op.create_index("ix_wallet_withdrawals_user", "wallet_withdrawals", ["user_id", "id"])
    op.create_index("ix_wallet_withdrawals_address", "wallet_withdrawals", ["user_id", "network", "address_key"])
    op.create_index("ix_wallet_withdrawals_due", "wallet_withdrawals", ["state", "send_after"])


def downgrade() -> None:
    op.drop_table("wallet_withdrawals")
