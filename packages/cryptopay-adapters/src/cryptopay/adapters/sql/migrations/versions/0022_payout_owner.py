"""Payouts name their owner: a ``merchant_id`` column (a merchant, or a wallet's user for its sales and bills).

A merchant's payout listing used to join through settlements, so a wallet's sale and bill payouts (whose
``settlement_id`` names the sale or the bill, not a settlement) were never listed; the in-memory store filtered by the
payout's own ``merchant_id`` and disagreed. The column is backfilled from each payout's JSON document, and the
document learns its ``kind`` (sale or bill from the id it names; every other payout is a settlement's).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_payouts = sa.table(
    "payouts",
    sa.column("id", sa.String),
    sa.column("settlement_id", sa.String),
    sa.column("merchant_id", sa.String),
    sa.column("doc", sa.Text),
)
_KINDS = {"sel_": "sale", "bil_": "bill"}  # the id prefixes of a wallet's sales and bills


def upgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(sa.Column("merchant_id", sa.String(64), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_payouts.c.id, _payouts.c.settlement_id, _payouts.c.doc)).all()
    for payout_id, settlement_id, doc in rows:
        data = json.loads(doc)
        data.setdefault("kind", next((k for p, k in _KINDS.items() if settlement_id.startswith(p)), "settlement"))
        values = {"merchant_id": data["merchant_id"], "doc": json.dumps(data, sort_keys=True, separators=(",", ":"))}
        conn.execute(_payouts.update().where(_payouts.c.id == payout_id).values(**values))
    with op.batch_alter_table("payouts") as batch:
        batch.alter_column("merchant_id", existing_type=sa.String(64), nullable=False)
    op.create_index("ix_payouts_merchant", "payouts", ["merchant_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_payouts_merchant", table_name="payouts")
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("merchant_id")
