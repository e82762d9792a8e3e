"""Team invitations written only over the version that was read (review11 R11-3's class).

A revocation (or retention's erasure) read the invitation without a lock and wrote every column back: an acceptance
committed in between was undone (``accepted_at`` back to NULL, the invitation shown revoked while its invitee is a
member). ``row_version`` is bumped by each write and by an acceptance, and a write whose read version is no longer
the stored one is refused (``InvitationChanged``).

Revision ID: 0293
Revises: 0292
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0293"
down_revision = "0292"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("merchant_invitations", sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("merchant_invitations", "row_version")
