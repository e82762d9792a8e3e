"""Wallet deposits: a wallet user's deposit addresses beside invoices' (one table, one index counter, so an address
is never two owners'), and the deposits seen at them.

``deposit_addresses`` gains ``user_id``; ``invoice_id`` and ``merchant_id`` become optional (a wallet's address has
neither). ``wallet_deposits`` holds one row per transfer.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deposit_addresses") as table:
        table.add_column(sa.Column("user_id", sa.String(64)))
        table.alter_column("invoice_id", existing_type=sa.String(64), nullable=True)
        table.alter_column("merchant_id", existing_type=sa.String(64), nullable=True)
        table.create_index("ix_deposit_addresses_user", ["user_id"])
    op.create_table(
        "wallet_deposits",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("tx_key", sa.String(128), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("watching", sa.Boolean, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
        sa.UniqueConstraint("network", "tx_key", "log_index", name="uq_wallet_deposits_transfer"),
    )
    op.create_index("ix_wallet_deposits_user", "wallet_deposits", ["user_id", "id"])
    op.create_index("ix_wallet_deposits_watching", "wallet_deposits", ["network", "watching", "id"])


def downgrade() -> None:
    op.drop_index("ix_wallet_deposits_watching", table_name="wallet_deposits")
    op.drop_index("ix_wallet_deposits_user", table_name="wallet_deposits")
    op.drop_table("wallet_deposits")
    op.execute("DELETE FROM deposit_addresses WHERE user_id IS NOT NULL")
    with op.batch_alter_table("deposit_addresses") as table:
        table.drop_index("ix_deposit_addresses_user")
        table.alter_column("merchant_id", existing_type=sa.String(64), nullable=False)
        table.alter_column("invoice_id", existing_type=sa.String(64), nullable=False)
        table.drop_column("user_id")
