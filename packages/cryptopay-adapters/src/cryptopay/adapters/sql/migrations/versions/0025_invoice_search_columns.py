"""Invoices get ``created_at`` and ``order_key`` columns: the dashboard's "today" and its order search become bounded
queries (an indexed range per merchant, a ``LIKE`` limited to a page) instead of walking every invoice.

Existing rows are filled from their documents, a batch at a time.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("invoices") as invoices:
        invoices.add_column(sa.Column("created_at", UtcDateTime, nullable=True))
        invoices.add_column(sa.Column("order_key", sa.String(400), nullable=True))
        invoices.create_index("ix_invoices_merchant_created", ["merchant_id", "created_at"])
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    table = sa.table(
        "invoices",
        sa.column("id", sa.String),
        sa.column("doc", sa.Text),
        sa.column("created_at", UtcDateTime),
        sa.column("order_key", sa.String),
    )
    after = ""
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c.doc).where(table.c.id > after).order_by(table.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        for invoice_id, doc in rows:
            body = json.loads(doc) if isinstance(doc, str) else doc
            order_id = body.get("order_id")
            values = {
                "created_at": datetime.fromisoformat(body["created_at"]),
                "order_key": order_id.casefold()[:400] if order_id else None,
            }
            conn.execute(table.update().where(table.c.id == invoice_id).values(**values))
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("invoices") as invoices:
        invoices.drop_index("ix_invoices_merchant_created")
        invoices.drop_column("order_key")
        invoices.drop_column("created_at")
