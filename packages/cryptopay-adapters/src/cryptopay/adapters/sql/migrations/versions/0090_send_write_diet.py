"""Fewer index writes per ledger entry and per P2P send, and balance updates that stay on their page (#14).

Revision ID: 0090
Revises: 0080
Create Date: 2026-12-07

- ``uq_ledger_entries_reverses`` (PostgreSQL) becomes a partial unique index ``WHERE reverses IS NOT NULL``, under
  the same name: the same rule (an entry is reversed at most once; NULLs never collided), without an index entry
  for every entry that reverses nothing (all but a few). SQLite keeps its table constraint (changing it would
  rebuild ``ledger_entries`` and its append-only triggers).
- ``ix_wallet_transfers_claims`` becomes ``(recipient_phone) WHERE state = 'awaiting_claim'``: every query that
  reads it (``SqlTransfers.awaiting_claim``, ``awaiting_registered``, ``claims_expiring``) asks for that state, and a
  delivered send (nearly all of them) no longer writes an entry there.
- ``ledger_accounts`` (PostgreSQL) gets ``fillfactor = 80``: a posting updates two balance rows, and with full pages
  about one update in six could not find room on the row's page for the new version, so it was not a HOT update
  and wrote both of the table's index entries again. The setting applies to pages written from now on: a new
  database's accounts (every page), and in an existing one the rows a non-HOT update moves to a new page; the
  table is not rewritten here (that would lock every balance for the rewrite's length).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0090"
down_revision = "0080"
branch_labels = None
depends_on = None

_AWAITING_CLAIM = "state = 'awaiting_claim'"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        op.drop_constraint("uq_ledger_entries_reverses", "ledger_entries", type_="unique")
        op.create_index(
            "uq_ledger_entries_reverses",
            "ledger_entries",
            ["reverses"],
            unique=True,
            postgresql_where=sa.text("reverses IS NOT NULL"),
        )
        op.execute("ALTER TABLE ledger_accounts SET (fillfactor = 80)")
    op.drop_index("ix_wallet_transfers_claims", "wallet_transfers")
    op.create_index(
        "ix_wallet_transfers_claims",
        "wallet_transfers",
        ["recipient_phone"],
        postgresql_where=sa.text(_AWAITING_CLAIM),
        sqlite_where=sa.text(_AWAITING_CLAIM),
    )


def downgrade() -> None:
    op.drop_index("ix_wallet_transfers_claims", "wallet_transfers")
    op.create_index("ix_wallet_transfers_claims", "wallet_transfers", ["state", "recipient_phone"])
    if _postgres():
        op.execute("ALTER TABLE ledger_accounts RESET (fillfactor)")
        op.drop_index("uq_ledger_entries_reverses", "ledger_entries")
        op.create_unique_constraint("uq_ledger_entries_reverses", "ledger_entries", ["reverses"])
