"""Merchant teams: members (one team per user) and invitations (only the token's SHA-256 kept).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ID = 64
CODE = 200


def upgrade() -> None:
    op.create_table(
        "merchant_members",
        sa.Column("user_id", sa.String(ID), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("merchant_id", sa.String(ID), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("added_at", UtcDateTime, nullable=False),
        sa.Column("added_by", sa.String(ID), nullable=False),
    )
    op.create_index("ix_merchant_members_merchant_id", "merchant_members", ["merchant_id"])
    op.create_table(
        "merchant_invitations",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("merchant_id", sa.String(ID), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("email", sa.String(CODE), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("invited_by", sa.String(ID), nullable=False),
        sa.Column("accepted_at", UtcDateTime),
        sa.Column("accepted_by", sa.String(ID)),
        sa.Column("revoked_at", UtcDateTime),
    )
    op.create_index("ix_merchant_invitations_merchant_id", "merchant_invitations", ["merchant_id"])


def downgrade() -> None:
    op.drop_index("ix_merchant_invitations_merchant_id", table_name="merchant_invitations")
    op.drop_table("merchant_invitations")
    op.drop_index("ix_merchant_members_merchant_id", table_name="merchant_members")
    op.drop_table("merchant_members")
