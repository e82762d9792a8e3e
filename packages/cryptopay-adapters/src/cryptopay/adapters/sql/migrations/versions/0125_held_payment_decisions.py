"""Held merchant payments: which wait for an officer's decision (``payment_credits.awaiting_decision``).

A payment from a listed address is held (``payments.crediting``); an officer releases it to the merchant, returns it
to the payer or keeps it for the authorities (``payments.held``). The column lists the held credits nobody decided
yet, by id. Rows held before this revision (their document says ``held``, none decided: the decision is new) are
marked; a held credit already reversed (its payment left the chain) waits for nothing.

Revision ID: 0125
Revises: 0091
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0125"
down_revision = "0091"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_credits") as credits:
        credits.add_column(sa.Column("awaiting_decision", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_payment_credits_awaiting_decision", "payment_credits", ["awaiting_decision", "id"])
    conn = op.get_bind()
    table = sa.table("payment_credits", sa.column("id", sa.String), sa.column("doc", sa.Text))
    rows = conn.execute(sa.select(table.c.id, table.c.doc).where(table.c.doc.like('%"held"%')))
    waiting = [
        row.id for row in rows if (doc := json.loads(row.doc)).get("held") and doc.get("reversal_entry_id") is None
    ]
    for row_id in waiting:
        conn.execute(
            sa.text("UPDATE payment_credits SET awaiting_decision = :yes WHERE id = :id"), {"yes": True, "id": row_id}
        )


def downgrade() -> None:
    op.drop_index("ix_payment_credits_awaiting_decision", table_name="payment_credits")
    with op.batch_alter_table("payment_credits") as credits:
        credits.drop_column("awaiting_decision")
