"""Ledger entries sealed into the audit chain by the worker (R10-6): a commit-order key and the seal's head.

Revision ID: 0272
Revises: 0290 (landed before it; revisions are sparse, not ordered by number)
Create Date: 2026-12-07

- ``ledger_entries.commit_tx`` (PostgreSQL): the id of the transaction that wrote the entry, a column default
  (``pg_current_xact_id()``, 64 bits with the epoch, as a bigint): no statement more per posting or send. Entries
  written before this migration read as 1 (added with a constant default, so the table is not rewritten: the
  default changes to the transaction id for rows written from now on). The seal takes only entries whose
  transaction is below the snapshot's xmin, so no transaction under way can later commit an entry before a
  sealed range. A BRIN index on it (a few pages; next to nothing per insert, no btree entry per entry) lets the
  seal skip the sealed part of the table. SQLite orders entries by their row id (one writer at a time).
- ``ledger_seal_head``: the last position sealed (transaction id or row id, and entry id) and the totals; no row
  until the first seal.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0272"
down_revision = "0290"
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        op.execute("ALTER TABLE ledger_entries ADD COLUMN commit_tx bigint NOT NULL DEFAULT 1")
        op.execute(
            "ALTER TABLE ledger_entries ALTER COLUMN commit_tx "
            "SET DEFAULT CAST(CAST(pg_current_xact_id() AS text) AS bigint)"
        )
        op.execute("CREATE INDEX ix_ledger_entries_commit_tx ON ledger_entries USING brin (commit_tx)")
    op.create_table(
        "ledger_seal_head",
        sa.Column("stream", sa.String(32), primary_key=True),
        sa.Column("last_tx", sa.BigInteger, nullable=False),
        sa.Column("last_id", sa.String(64), nullable=False),
        sa.Column("batches", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_seal_head")
    if _postgres():
        op.execute("DROP INDEX ix_ledger_entries_commit_tx")
        op.execute("ALTER TABLE ledger_entries DROP COLUMN commit_tx")
