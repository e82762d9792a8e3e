"""KYC/KYB applications: the applicant's details and document metadata as a JSON document, queried by party and state.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "kyc_applications",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("party_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_kyc_applications_party", "kyc_applications", ["party_id", "created_at"])
    op.create_index("ix_kyc_applications_state", "kyc_applications", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_kyc_applications_state", table_name="kyc_applications")
    op.drop_index("ix_kyc_applications_party", table_name="kyc_applications")
    op.drop_table("kyc_applications")
