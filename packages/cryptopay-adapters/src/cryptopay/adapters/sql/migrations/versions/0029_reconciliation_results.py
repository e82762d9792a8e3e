"""Every reconciliation run's result per check (``ReconciliationRuns``): who ran it, when, and what it found.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "reconciliation_results",
        sa.Column("run_id", sa.String(ID), primary_key=True),
        sa.Column("check_name", sa.String(ID), primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("ran", sa.Boolean, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_reconciliation_results_latest", "reconciliation_results", ["check_name", "ran", "at"])


def downgrade() -> None:
    op.drop_table("reconciliation_results")
