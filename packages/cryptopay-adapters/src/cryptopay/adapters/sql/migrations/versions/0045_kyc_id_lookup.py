"""KYC applications: the applicant's ID document as a keyed hash, indexed (one national ID, which accounts).

Revision ID: 0045
Revises: 0040
Create Date: 2026-12-06

``kyc_applications.id_lookup`` holds ``HMAC-SHA256(CRYPTOPAY_PII_LOOKUP_KEY, "<id type>:<normalised number>")``
(``cryptopay.core.kyc.applications.id_key``, hashed by ``PersonalData.lookup``), so a submission and an approval find
the other accounts that gave the same ID document without the numbers, sealed in the document, being searchable.
A migration holds no keys: rows written before it get their hash from the sealing pass ``cryptopay db upgrade``
runs after the migrations (``seal_personal_data``), or when the application is next written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kyc_applications", sa.Column("id_lookup", sa.String(128), nullable=True))
    op.create_index("ix_kyc_applications_id_lookup", "kyc_applications", ["id_lookup"])


def downgrade() -> None:
    op.drop_index("ix_kyc_applications_id_lookup", table_name="kyc_applications")
    with op.batch_alter_table("kyc_applications") as batch:  # SQLite rebuilds the table
        batch.drop_column("id_lookup")
