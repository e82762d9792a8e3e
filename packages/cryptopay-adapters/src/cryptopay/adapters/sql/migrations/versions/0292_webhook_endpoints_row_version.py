"""Webhook endpoints written only over the version that was read (review11 R11-3).

An endpoint's change read the row without a lock and wrote every column back: a removed team admin's edit in flight
could write ``enabled`` back to true over the owner's removal (which disables the endpoints that admin added), or
over a reclaim's. ``row_version`` is bumped by each write, and a write whose read version is no longer the stored
one is refused (``EndpointChanged``).

Revision ID: 0292
Revises: 0291
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0292"
down_revision = "0291"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_endpoints", sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    # In place, not batch (as 0290): a batch copy would be refused while deliveries' rows refer to it.
    op.drop_column("webhook_endpoints", "row_version")
