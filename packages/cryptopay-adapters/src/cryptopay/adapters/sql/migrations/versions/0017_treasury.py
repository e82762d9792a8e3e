"""The treasury: sweeps of deposit addresses (``treasury_sweeps``) and M-Pesa's float readings.

A sweep is recorded before its sweeper sends anything; ``open_address`` (unique with the network) keeps one open
sweep per address. Float readings are the balances B2C results carry, kept with the books' float of that moment.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "treasury_sweeps",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("deposit_address", sa.String(128), nullable=False),
        sa.Column("open_address", sa.String(128)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
        sa.UniqueConstraint("network", "open_address", name="uq_treasury_sweeps_open"),
    )
    op.create_index("ix_treasury_sweeps_state", "treasury_sweeps", ["state", "created_at"])
    op.create_table(
        "treasury_float_readings",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_treasury_float_readings_at", "treasury_float_readings", ["at"])


def downgrade() -> None:
    op.drop_index("ix_treasury_float_readings_at", table_name="treasury_float_readings")
    op.drop_table("treasury_float_readings")
    op.drop_index("ix_treasury_sweeps_state", table_name="treasury_sweeps")
    op.drop_table("treasury_sweeps")
