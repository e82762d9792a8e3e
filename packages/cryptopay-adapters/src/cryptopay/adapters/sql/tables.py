"""The tables, as SQLAlchemy Core ``Table``s; the migrations create them (with the constraints and triggers).

Domain classes never see these: each repository maps rows to attrs objects and back at the edge.
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.types import Amount, JsonText, UtcDateTime

__all__ = [
    "audit_head",
    "audit_log",
    "ledger_accounts",
    "ledger_entries",
    "ledger_holds",
    "ledger_idempotency",
    "ledger_lines",
    "ledger_seal_head",
    "metadata",
    "outbox",
]

metadata = sa.MetaData()

CODE = 200
ID = 64
ASSET = 16

ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    sa.Column("code", sa.String(CODE), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("asset", sa.String(ASSET), nullable=False),
    sa.Column("allow_negative", sa.Boolean, nullable=False),
    sa.Column("debit_normal", sa.Boolean, nullable=False),
    sa.Column("debits_posted", Amount, nullable=False),
    sa.Column("credits_posted", Amount, nullable=False),
    sa.Column("debits_pending", Amount, nullable=False),
    sa.Column("credits_pending", Amount, nullable=False),
    sa.Column("available", Amount, nullable=False),
    sa.UniqueConstraint("code", "asset", name="uq_ledger_accounts_code_asset"),
    postgresql_with={"fillfactor": 80},  # room for a balance update's new version on its page (HOT; 0090)
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("idempotency_key", sa.String(CODE), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("quote_id", sa.String(ID)),
    sa.Column("reverses", sa.String(ID), sa.ForeignKey("ledger_entries.id")),
    sa.Column("hold_id", sa.String(ID)),
    sa.Column("meta", JsonText, nullable=False),
    # Reversed at most once. PostgreSQL: a partial index, no entry for the entries that reverse nothing (0090);
    # SQLite keeps the table's UNIQUE constraint of 0001.
    sa.Index("uq_ledger_entries_reverses", "reverses", unique=True, postgresql_where=sa.text("reverses IS NOT NULL")),
)

# A line references its entry and its account. SQLite declares both as foreign keys; PostgreSQL checks them once
# per statement with a trigger instead (migration 0005: per-line foreign-key locks were the batched path's main cost).
ledger_lines = sa.Table(
    "ledger_lines",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.String(ID), sa.ForeignKey("ledger_entries.id"), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("account_code", sa.String(CODE), nullable=False),
    sa.Column("asset", sa.String(ASSET), nullable=False),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("balance_before", Amount, nullable=False),
    sa.Column("balance_after", Amount, nullable=False),
    sa.ForeignKeyConstraint(["account_code", "asset"], ["ledger_accounts.code", "ledger_accounts.asset"]),
)

ledger_holds = sa.Table(
    "ledger_holds",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("idempotency_key", sa.String(CODE), nullable=False),
    sa.Column("debit_account", sa.String(CODE), sa.ForeignKey("ledger_accounts.code"), nullable=False),
    sa.Column("credit_account", sa.String(CODE), sa.ForeignKey("ledger_accounts.code"), nullable=False),
    sa.Column("asset", sa.String(ASSET), nullable=False),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("posted_amount", Amount),
    sa.Column("entry_id", sa.String(ID), sa.ForeignKey("ledger_entries.id")),
    sa.Column("description", sa.Text, nullable=False),
)

ledger_idempotency = sa.Table(
    "ledger_idempotency",
    metadata,
    sa.Column("key", sa.String(CODE), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("result_kind", sa.String(16), nullable=False),
    sa.Column("result_id", sa.String(ID), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(ID), nullable=False, unique=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(CODE), nullable=False),
    sa.Column("action", sa.String(CODE), nullable=False),
    sa.Column("subject", sa.String(CODE), nullable=False),
    sa.Column("details", JsonText, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_subject", "subject", "seq"),  # a data subject's export (and an officer's lookups)
    sa.Index("ix_audit_log_actor", "actor", "seq"),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# The ledger seal's head (migration 0272): the last position sealed into the audit chain, per stream ("ledger").
# PostgreSQL's ``ledger_entries.commit_tx`` (the writing transaction's id, a column default) is read by
# ``ledger_seal`` only, by name: it is not declared on ``ledger_entries`` above, which SQLite shares.
ledger_seal_head = sa.Table(
    "ledger_seal_head",
    metadata,
    sa.Column("stream", sa.String(32), primary_key=True),
    sa.Column("last_tx", sa.BigInteger, nullable=False),
    sa.Column("last_id", sa.String(ID), nullable=False),
    sa.Column("batches", sa.BigInteger, nullable=False),
    sa.Column("sealed", sa.BigInteger, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("topic", sa.String(CODE), nullable=False),
    sa.Column("key", sa.String(CODE)),
    sa.Column("payload", JsonText, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("available_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("published_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
)
