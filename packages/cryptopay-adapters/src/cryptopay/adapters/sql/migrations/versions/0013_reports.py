"""Reports: payment credits found by merchant and time (sales and fees per day and month).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_payment_credits_merchant_credited", "payment_credits", ["merchant_id", "credited_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_credits_merchant_credited", table_name="payment_credits")
