"""Personal wallets: users may sign up by phone (email optional), wallets, phone verifications, transfers, usage.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import Amount, JsonText, UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.alter_column("email", existing_type=sa.String(320), nullable=True)
        users.alter_column("email_key", existing_type=sa.String(320), nullable=True)
        users.add_column(sa.Column("phone", sa.String(16), nullable=True))
        users.create_unique_constraint("uq_users_phone", ["phone"])
    op.create_table(
        "wallets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("phone", sa.String(16), nullable=False, unique=True),
        sa.Column("username", sa.String(32), unique=True),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_table(
        "phone_verifications",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_phone_verifications_phone", "phone_verifications", ["phone"])
    op.create_table(
        "wallet_transfers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("recipient_id", sa.String(64)),
        sa.Column("recipient_phone", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claim_expires_at", UtcDateTime),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_wallet_transfers_sender", "wallet_transfers", ["sender_id", "id"])
    op.create_index("ix_wallet_transfers_recipient", "wallet_transfers", ["recipient_id", "id"])
    op.create_index("ix_wallet_transfers_claims", "wallet_transfers", ["state", "recipient_phone"])
    op.create_table(
        "wallet_usage",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("kes_value", Amount, nullable=False),
        sa.Column("asset", sa.String(16), nullable=False, server_default="KES"),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
    )
    op.create_index("ix_wallet_usage_user_at", "wallet_usage", ["user_id", "at"])


def downgrade() -> None:
    for index, table in (
        ("ix_wallet_usage_user_at", "wallet_usage"),
        ("ix_wallet_transfers_claims", "wallet_transfers"),
        ("ix_wallet_transfers_recipient", "wallet_transfers"),
        ("ix_wallet_transfers_sender", "wallet_transfers"),
        ("ix_phone_verifications_phone", "phone_verifications"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("wallet_usage", "wallet_transfers", "phone_verifications", "wallets"):
        op.drop_table(table)
    with op.batch_alter_table("users") as users:
        users.drop_constraint("uq_users_phone", type_="unique")
        users.drop_column("phone")
        users.alter_column("email_key", existing_type=sa.String(320), nullable=False)
        users.alter_column("email", existing_type=sa.String(320), nullable=False)
