"""Wallet quotes: a quote a wallet trades at is claimed by the person who locked it, for a purpose, used once.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06

Before, ``POST /v1/wallet/buys``, ``/sells`` and ``/bills`` took any USDT/KES quote id (another user's, an invoice's)
as often as they liked until it expired: a free option against the float. ``wallet_quotes`` records the owner, the
purpose and the wallet's (shorter) window of each quote locked for a wallet, and the trade that used it
(``cryptopay.core.wallets.quotes``). Existing quotes have no claim, so none of them can be traded at any more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_quotes",
        sa.Column("quote_id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("locked_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("used_by", sa.String(64)),
        sa.Column("used_at", UtcDateTime),
    )


def downgrade() -> None:
    op.drop_table("wallet_quotes")
