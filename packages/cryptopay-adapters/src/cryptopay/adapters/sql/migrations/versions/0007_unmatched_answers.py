"""Answers from M-Pesa kept until matched (``unmatched_answers``).

A Daraja answer from an allowed source whose URL token names no recorded request is kept here and matched later
by the ids it carries, instead of being dropped. ``payout_queries`` needs no change: it now indexes every answer
key of a payout (callback-token digests as ``token:<digest>``, status-query ids), in the same column.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "unmatched_answers",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("matched_at", UtcDateTime),
        sa.Column("doc", JsonText, nullable=False),
    )
    op.create_index("ix_unmatched_answers_pending", "unmatched_answers", ["matched_at", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_unmatched_answers_pending", table_name="unmatched_answers")
    op.drop_table("unmatched_answers")
