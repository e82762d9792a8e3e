"""The Travel Rule's records (FATF R.16): one per crypto transfer at or above the threshold, IVMS101 data as JSON.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "travel_rule_records",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("reference", sa.String(ID), nullable=False),
        sa.Column("party_id", sa.String(ID), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
        sa.UniqueConstraint("direction", "reference", name="uq_travel_rule_transfer"),
        sa.CheckConstraint("direction IN ('in','out')", name="ck_travel_rule_direction"),
    )
    op.create_index("ix_travel_rule_party", "travel_rule_records", ["party_id", "id"])


def downgrade() -> None:
    op.drop_table("travel_rule_records")
