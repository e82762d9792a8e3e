"""Accounts written only over the version that was read (review11 R11-1).

Every change to an account read the ``users`` row, did slow work (an Argon2 hash takes seconds), and wrote every
column back: whichever write landed last won whole, so a password change in flight undid an operator's demotion, and
a thief's password change undid the owner's. ``row_version`` is bumped by each write, and a write whose read version
is no longer the stored one is refused (``AccountChanged``).

Revision ID: 0290
Revises: 0271
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0290"
down_revision = "0271"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    # In place, not batch (as 0072): a batch copy of ``users`` would be refused while merchants' rows refer to it.
    op.drop_column("users", "row_version")
