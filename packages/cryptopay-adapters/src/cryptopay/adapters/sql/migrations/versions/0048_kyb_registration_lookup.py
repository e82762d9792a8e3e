"""KYB: one business registration number, which merchants; one director, which businesses (keyed hashes, indexed).

Revision ID: 0048
Revises: 0045
Create Date: 2026-12-06

A KYB application's registration number (``cryptopay.core.kyc.applications.registration_key``) is kept in
``kyc_applications.id_lookup`` (0045's column: ``HMAC-SHA256(CRYPTOPAY_PII_LOOKUP_KEY, key)``, a namespace no
person's ID shares), so a second merchant with the same registration is found at submission and approval. Each
director's ID document (``id_key``) gets a row in the new ``kyc_director_lookups``, indexed by its hash: which other
businesses one person directs (information for the officers, never a refusal). A migration holds no keys: KYB rows
written before it get both from the sealing pass ``cryptopay db upgrade`` runs after the migrations
(``seal_personal_data``: a row with a business and no ``id_lookup`` is rewritten), or when the application is next
written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0048"
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kyc_director_lookups",
        sa.Column("application_id", sa.String(64), sa.ForeignKey("kyc_applications.id"), primary_key=True),
        sa.Column("director_id", sa.String(16), primary_key=True),
        sa.Column("lookup", sa.String(128), nullable=False),
    )
    op.create_index("ix_kyc_director_lookups_lookup", "kyc_director_lookups", ["lookup"])


def downgrade() -> None:
    op.drop_index("ix_kyc_director_lookups_lookup", table_name="kyc_director_lookups")
    op.drop_table("kyc_director_lookups")
