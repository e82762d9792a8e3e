"""Payments to our paybill outside an STK prompt (Daraja C2B) and the registrations of the URLs they come to.

Revision ID: 0165
Revises: 0161
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0165"
down_revision = "0161"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paybill_payments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("trans_id", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_paybill_payments_state", "paybill_payments", ["state", "id"])
    op.create_table(
        "paybill_url_registrations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("shortcode", sa.String(16), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("registered_at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index(
        "ix_paybill_url_registrations_shortcode", "paybill_url_registrations", ["shortcode", "registered_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_paybill_url_registrations_shortcode", table_name="paybill_url_registrations")
    op.drop_table("paybill_url_registrations")
    op.drop_index("ix_paybill_payments_state", table_name="paybill_payments")
    op.drop_table("paybill_payments")
