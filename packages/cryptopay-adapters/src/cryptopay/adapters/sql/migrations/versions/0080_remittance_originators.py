"""Remittance orders: the originator keys an order is found by (the Travel Rule over 24 hours).

Revision ID: 0080
Revises: 0072
Create Date: 2026-12-06

``originator_address`` and ``originator_name`` hold the keyed hashes (``PersonalData.lookup``) of an order's refund
address and of its sender's name as name matching compares it (``remittances.model.originator_keys``);
``created_at`` is when the order was opened. ``Remittances.create`` sums an originator's orders of the last 24 hours
by them. Orders opened before this revision keep NULL (the sender's name is sealed, SQL cannot key it): they are
older than the 24 hours the sums look at within a day of the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0080"
down_revision = "0072"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("remittance_orders") as orders:
        orders.add_column(sa.Column("originator_address", sa.String(255)))
        orders.add_column(sa.Column("originator_name", sa.String(255)))
        orders.add_column(sa.Column("created_at", UtcDateTime))
    op.create_index(
        "ix_remittance_orders_originator_address", "remittance_orders", ["originator_address", "created_at"]
    )
    op.create_index("ix_remittance_orders_originator_name", "remittance_orders", ["originator_name", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_remittance_orders_originator_name", "remittance_orders")
    op.drop_index("ix_remittance_orders_originator_address", "remittance_orders")
    with op.batch_alter_table("remittance_orders") as orders:
        orders.drop_column("created_at")
        orders.drop_column("originator_name")
        orders.drop_column("originator_address")
