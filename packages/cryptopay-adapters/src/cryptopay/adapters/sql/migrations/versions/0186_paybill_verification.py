"""Paybill payments verified by Transaction Status before they are booked: when to ask, and the open query's tokens.

Revision ID: 0186
Revises: 0165
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0186"
down_revision = "0165"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("paybill_payments", sa.Column("check_at", UtcDateTime, nullable=True))
    op.add_column("paybill_payments", sa.Column("status_digest", sa.String(64), nullable=True))
    op.add_column("paybill_payments", sa.Column("timeout_digest", sa.String(64), nullable=True))
    op.create_index("ix_paybill_payments_check_at", "paybill_payments", ["check_at"])
    op.create_index("uq_paybill_payments_status_digest", "paybill_payments", ["status_digest"], unique=True)
    op.create_index("uq_paybill_payments_timeout_digest", "paybill_payments", ["timeout_digest"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_paybill_payments_timeout_digest", table_name="paybill_payments")
    op.drop_index("uq_paybill_payments_status_digest", table_name="paybill_payments")
    op.drop_index("ix_paybill_payments_check_at", table_name="paybill_payments")
    with op.batch_alter_table("paybill_payments") as batch:
        batch.drop_column("timeout_digest")
        batch.drop_column("status_digest")
        batch.drop_column("check_at")
