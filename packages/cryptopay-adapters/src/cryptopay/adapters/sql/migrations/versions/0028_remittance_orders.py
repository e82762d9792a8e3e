"""Remittance orders from abroad (``cryptopay.core.remittances``): one row per order, its JSON document plus the
columns it is found by.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "remittance_orders",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("public_id", sa.String(ID), nullable=False, unique=True),
        sa.Column("invoice_id", sa.String(ID), nullable=False, unique=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_remittance_orders_active", "remittance_orders", ["active", "id"])
    op.create_index("ix_remittance_orders_state", "remittance_orders", ["state", "id"])


def downgrade() -> None:
    op.drop_table("remittance_orders")
