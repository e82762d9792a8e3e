"""Sends held for a frozen recipient are the officers' queue (review4 R6, second path).

Revision ID: 0175
Revises: 0186
Create Date: 2026-12-07

A send to a frozen recipient is accepted as any other and held (``TransferState.HELD``, the amount in
``liabilities:p2p_held:<ASSET>``) until an officer releases or returns it. ``ix_wallet_transfers_held`` is a partial
index ``(id) WHERE state = 'held'`` (``SqlTransfers.held`` names the state as a literal): the queue is read without
scanning every transfer, and a delivered send (nearly all of them) writes no entry in it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0175"
down_revision = "0186"
branch_labels = None
depends_on = None

_HELD = "state = 'held'"


def upgrade() -> None:
    op.create_index(
        "ix_wallet_transfers_held",
        "wallet_transfers",
        ["id"],
        postgresql_where=sa.text(_HELD),
        sqlite_where=sa.text(_HELD),
    )


def downgrade() -> None:
    op.drop_index("ix_wallet_transfers_held", "wallet_transfers")
