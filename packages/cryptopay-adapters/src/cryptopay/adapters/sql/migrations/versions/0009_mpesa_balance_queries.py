"""Account Balance queries (``mpesa_balance_queries``), recorded before they are sent.

Reconciliation compares M-Pesa's float (an Account Balance answer, which arrives on a callback) with the books'
float read when the answer came; each query is found by its callback token's digest.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpesa_balance_queries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("token_digest", sa.String(128), nullable=False, unique=True),
        sa.Column("answered_at", UtcDateTime),
        sa.Column("has_balance", sa.Boolean, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_mpesa_balance_queries_answered", "mpesa_balance_queries", ["has_balance", "answered_at"])


def downgrade() -> None:
    op.drop_index("ix_mpesa_balance_queries_answered", table_name="mpesa_balance_queries")
    op.drop_table("mpesa_balance_queries")
