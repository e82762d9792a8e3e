"""Held wallet sends an officer kept and then released or returned: the keep's mark cleared from the decided send.

A kept send (``Transfer.kept``: who kept it held, when, why) stayed marked after an officer released or returned it,
so the console, the CLI and the API read a returned send as kept too. A decision now clears the mark (the keep stays
in the audit log, ``wallet.held_send_kept``); this clears it from sends decided before.

Revision ID: 0271
Revises: 0270
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import document_text

revision = "0271"
down_revision = "0270"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    transfers = sa.table(
        "wallet_transfers", sa.column("id", sa.String), sa.column("state", sa.String), sa.column("doc", sa.Text)
    )
    decided = sa.select(transfers.c.id, transfers.c.doc).where(
        transfers.c.state.in_(("delivered", "returned")), transfers.c.doc.like('%"kept":{%')
    )
    for row in conn.execute(decided).all():
        doc = json.loads(row.doc)
        doc["kept"] = None
        conn.execute(transfers.update().where(transfers.c.id == row.id).values(doc=document_text(doc)))


def downgrade() -> None:
    """Nothing to undo: a decided send without the mark is what the revision before writes itself."""
