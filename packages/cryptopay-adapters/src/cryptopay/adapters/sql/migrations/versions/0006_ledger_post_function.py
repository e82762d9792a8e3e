"""PostgreSQL: ``ledger_post_new_entries``, a whole new-entries write in one statement (one round trip).

``Ledger.post``/``post_many`` hand brand-new entries (``EntryDraft``) to ``SqlLedgerStore.post_drafts``, which
calls this function as a transaction of its own. It applies the same rules as ``book.apply_postings``:

1. if any idempotency key is already recorded it declines (a replay or a conflict is the general path's work);
2. it locks the accounts with ``FOR UPDATE``, one at a time in code order (the general path's order), and declines
   if any is missing (one opened meanwhile must not be read unlocked by the write);
3. it writes the entries, their idempotency records, their lines with each account's balance before and after
   (running sums over the batch in entry order) and the new account totals; a line naming an account of another
   asset, an entry that would leave an account that may not go negative below zero, or a balance or total beyond
   what the core's decimal context can hold (each line's ``limit``: ``10 ** (precision - decimals)``) makes it
   decline instead, as does (a safety net) any locked account row the write failed to update.

Declining raises SQLSTATE ``CPL01``: the statement, and so its transaction, changes nothing, and the ledger
takes the general path, which refuses with the precise error (or replays, or posts if the balances changed
meanwhile). Every table constraint and trigger still applies (zero sum per entry, line references, checks).

Every lookup is an index probe per input row (``LATERAL ... LIMIT 1``): json_to_recordset is estimated at 100
rows whatever it holds, and against a small accounts table the planner would rather hash every account.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SQL = "0006_ledger_post_function.sql"  # next to this file, shipped as package data


def _statements() -> list[str]:
    """The migration's statements, read from its ``.sql`` file (package data beside this module)."""
    text = (Path(__file__).parent / _SQL).read_text(encoding="utf-8")
    return [statement for statement in text.split("\n-- ;;\n") if statement.strip()]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _statements():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS ledger_post_new_entries(json, json)")
    op.execute("DROP FUNCTION IF EXISTS ledger_decline(text)")
