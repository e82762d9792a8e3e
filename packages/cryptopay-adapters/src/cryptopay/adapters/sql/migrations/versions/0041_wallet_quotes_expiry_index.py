"""Wallet quotes: an index on ``expires_at`` for the worker's ``wallets.prune_quotes``.

Revision ID: 0041
Revises: 0034
Create Date: 2026-12-06

Every quote a wallet user or a merchant locks leaves a claim in ``wallet_quotes`` (0039), and nothing removed them.
The worker's hourly ``wallets.prune_quotes`` (``cryptopay.core.wallets.quotes.prune_claims``) deletes claims whose
two-minute window ended more than seven days ago, a batch at a time, the longest ended first: this index finds each
batch without reading the table.
"""

from __future__ import annotations

from alembic import op

revision = "0041"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_wallet_quotes_expires", "wallet_quotes", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_wallet_quotes_expires", table_name="wallet_quotes")
