"""Team invitations: the invitee's address as a keyed hash (``merchant_invitations.email_lookup``), so the invitations
to one address are counted across every team (review4 R15: one address gets at most a few a day, whichever merchants
send them) without reading the sealed email.

Rows made before this revision have none: the cap counts one day back, so they stop mattering a day after the upgrade
(and the sealing job, ``cryptopay privacy seal --all``, writes it for every invitation it rewrites).

Revision ID: 0126
Revises: 0125
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0126"
down_revision = "0125"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchant_invitations") as invitations:
        invitations.add_column(sa.Column("email_lookup", sa.Text))
    op.create_index("ix_merchant_invitations_email_lookup", "merchant_invitations", ["email_lookup", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_merchant_invitations_email_lookup", table_name="merchant_invitations")
    with op.batch_alter_table("merchant_invitations") as invitations:
        invitations.drop_column("email_lookup")
