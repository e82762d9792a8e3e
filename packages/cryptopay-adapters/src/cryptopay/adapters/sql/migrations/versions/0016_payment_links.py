"""Payment links: a merchant's reusable request to be paid (``payment_links``).

``uses`` is a column of its own, counted by one conditional ``UPDATE`` in the transaction that stores the
invoice of each use, so a capped link never makes more invoices than its cap.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_links",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("public_id", sa.String(64), nullable=False, unique=True),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("expires_at", UtcDateTime),
        sa.Column("max_uses", sa.Integer),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
        sa.CheckConstraint("uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name="ck_payment_links_uses"),
    )
    op.create_index("ix_payment_links_merchant", "payment_links", ["merchant_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_payment_links_merchant", table_name="payment_links")
    op.drop_table("payment_links")
