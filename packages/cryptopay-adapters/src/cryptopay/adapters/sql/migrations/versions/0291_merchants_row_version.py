"""Merchants written only over the version that was read (review11 R11-3).

Every change to a merchant read the ``merchants`` row without a lock and wrote every column back: an owner's rename
read before an operator's close wrote ``closed_at`` back to NULL, undoing the close (and a reclaim's cool-off on a
squatter's payout destination, or the retention erasure of that destination, the same way). ``row_version`` is
bumped by each write, and a write whose read version is no longer the stored one is refused (``MerchantChanged``).

Revision ID: 0291
Revises: 0278
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0291"
down_revision = "0278"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("merchants", sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    # In place, not batch (as 0290): a batch copy of ``merchants`` would be refused while other rows refer to it.
    op.drop_column("merchants", "row_version")
