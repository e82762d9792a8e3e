"""Paybill payments an operator returns by M-Pesa's Reversal: the reversal's URL token digests; and whether Transaction
Status ever did not confirm a payment (the unverified counter, which re-verifying, crediting or reversing one must not
lower).

Revision ID: 0200
Revises: 0175
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0175"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("paybill_payments", sa.Column("reversal_digest", sa.String(64), nullable=True))
    op.add_column("paybill_payments", sa.Column("reversal_timeout_digest", sa.String(64), nullable=True))
    op.add_column(
        "paybill_payments", sa.Column("was_unverified", sa.Boolean, nullable=False, server_default=sa.false())
    )
    marked = sa.text("UPDATE paybill_payments SET was_unverified = :yes WHERE state = 'unverified'")
    op.execute(marked.bindparams(sa.bindparam("yes", True, type_=sa.Boolean)))
    op.create_index("uq_paybill_payments_reversal_digest", "paybill_payments", ["reversal_digest"], unique=True)
    op.create_index(
        "uq_paybill_payments_reversal_timeout_digest", "paybill_payments", ["reversal_timeout_digest"], unique=True
    )
    op.create_index("ix_paybill_payments_was_unverified", "paybill_payments", ["was_unverified"])


def downgrade() -> None:
    op.drop_index("ix_paybill_payments_was_unverified", table_name="paybill_payments")
    op.drop_index("uq_paybill_payments_reversal_timeout_digest", table_name="paybill_payments")
    op.drop_index("uq_paybill_payments_reversal_digest", table_name="paybill_payments")
    with op.batch_alter_table("paybill_payments") as batch:
        batch.drop_column("was_unverified")
        batch.drop_column("reversal_timeout_digest")
        batch.drop_column("reversal_digest")
