"""Sanctions lists: versioned snapshots, their entries (names and programs as documents) and listed addresses.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "sanctions_snapshots",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_sanctions_snapshots_source", "sanctions_snapshots", ["source", "imported_at"])
    op.create_table(
        "sanctions_entries",
        sa.Column("snapshot_id", sa.String(ID), primary_key=True),
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_table(
        "sanctions_addresses",
        sa.Column("family", sa.String(16), primary_key=True),
        sa.Column("address", sa.String(200), primary_key=True),
        sa.Column("snapshot_id", sa.String(ID), primary_key=True),
        sa.Column("ref", sa.String(64), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("sanctions_addresses")
    op.drop_table("sanctions_entries")
    op.drop_table("sanctions_snapshots")
