"""Compliance monitoring: the journal of movements the rules read, alerts (one per rule, version and movement), cases.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "compliance_movements",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("party_id", sa.String(ID), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_compliance_movements_party", "compliance_movements", ["party_id", "at"])
    op.create_index("ix_compliance_movements_at", "compliance_movements", ["at", "id"])
    op.create_table(
        "compliance_alerts",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("party_id", sa.String(ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_compliance_alerts_status", "compliance_alerts", ["status", "id"])
    op.create_table(
        "compliance_cases",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("party_id", sa.String(ID), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_compliance_cases_status", "compliance_cases", ["status", "id"])


def downgrade() -> None:
    op.drop_table("compliance_cases")
    op.drop_table("compliance_alerts")
    op.drop_table("compliance_movements")
