"""Hosted checkout pages: each invoice gets an unguessable public id (``/pay/<public_id>``), unique.

Invoices made before this revision get one too, in the column and in their JSON document alike.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import json
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_invoices = sa.table("invoices", sa.column("id", sa.String), sa.column("doc", sa.Text), sa.column("public_id"))


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("public_id", sa.String(64), nullable=True))
    conn = op.get_bind()
    for invoice_id, doc in conn.execute(sa.select(_invoices.c.id, _invoices.c.doc)).all():
        public_id = secrets.token_urlsafe(16)
        data = json.loads(doc)
        data["public_id"] = public_id
        update = _invoices.update().where(_invoices.c.id == invoice_id)
        conn.execute(update.values(public_id=public_id, doc=json.dumps(data, sort_keys=True, separators=(",", ":"))))
    op.create_index("ux_invoices_public_id", "invoices", ["public_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_invoices_public_id", table_name="invoices")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("public_id")
