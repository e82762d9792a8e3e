"""KYC profiles (one per party) and fee schedule versions (one per product, asset, name and version).

Both are JSON documents next to the columns they are queried by; money and percents stay exact strings inside.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CODE, ID, ASSET = 200, 64, 16


def upgrade() -> None:
    op.create_table(
        "kyc_profiles",
        sa.Column("party_id", sa.String(ID), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer),
        sa.Column("requested_level", sa.Integer),
        sa.Column("expires_at", UtcDateTime),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_kyc_profiles_status", "kyc_profiles", ["status", "party_id"])
    op.create_table(
        "fee_schedules",
        sa.Column("product", sa.String(32), primary_key=True),
        sa.Column("asset", sa.String(ASSET), primary_key=True),
        sa.Column("name", sa.String(CODE), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("effective_from", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_fee_schedules_version"),
    )


def downgrade() -> None:
    op.drop_table("fee_schedules")
    op.drop_index("ix_kyc_profiles_status", table_name="kyc_profiles")
    op.drop_table("kyc_profiles")
