"""PostgreSQL: row types for the P2P send's one write statement (#14).

The send's write (``repositories.wallets``: the ledger's entry, lines, balances and idempotency key, the transfer, its
usage rows and the movements monitoring journals, in one statement) takes each table's new rows as one array of a
composite type of its own, ``unnest``ed into the table: an array literal parsed by the types' input functions, no
JSON document parsed and no record populated from one (``json_populate_recordset`` of the flush's and the journal's
documents was a tenth of the server's instructions per send). The types are the statement's parameters, not the
tables' row types, so their fields are in an order the client knows whatever order the tables' columns are in.
Nothing is stored in them; SQLite has none (its send composes the repositories).

Revision ID: 0110
Revises: 0126
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0110"
down_revision = "0126"
branch_labels = None
depends_on = None

ROW_TYPES = {
    "cryptopay_entry_row": "id varchar, idempotency_key varchar, description text, created_at timestamptz, "
    "quote_id varchar, reverses varchar, hold_id varchar, meta text",
    "cryptopay_line_row": "entry_id varchar, line_no integer, account_code varchar, asset varchar, amount numeric, "
    "balance_before numeric, balance_after numeric",
    "cryptopay_balance_row": "code varchar, debits_posted numeric, credits_posted numeric, debits_pending numeric, "
    "credits_pending numeric, available numeric",
    "cryptopay_key_row": "key varchar, request_hash varchar, result_kind varchar, result_id varchar",
    "cryptopay_movement_row": "id varchar, party_id varchar, at timestamptz, doc text",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, fields in ROW_TYPES.items():
            op.execute(f"CREATE TYPE {name} AS ({fields})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in reversed(ROW_TYPES):
            op.execute(f"DROP TYPE {name}")
