"""Payments on the wrong EVM network: a token sent to an invoice's address on an EVM network it did not ask for.

Revision ID: 0038
Revises: 0033
Create Date: 2026-12-06

One row per transfer (unique network, transaction, log index), kept as a document with the columns it is found by:
the invoice, the state (the pending ones await a decision) and whether a confirmation step still checks its block.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wrong_network_payments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("invoice_id", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("network", sa.String(200), nullable=False),
        sa.Column("tx_key", sa.String(128), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("followed", sa.Boolean, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.UniqueConstraint("network", "tx_key", "log_index", name="uq_wrong_network_payments_transfer"),
    )
    op.create_index("ix_wrong_network_payments_invoice", "wrong_network_payments", ["invoice_id", "id"])
    op.create_index("ix_wrong_network_payments_state", "wrong_network_payments", ["state", "id"])
    op.create_index("ix_wrong_network_payments_followed", "wrong_network_payments", ["network", "followed", "id"])


def downgrade() -> None:
    op.drop_table("wrong_network_payments")
