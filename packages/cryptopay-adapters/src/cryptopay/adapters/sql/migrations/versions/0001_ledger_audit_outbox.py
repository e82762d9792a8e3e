"""Ledger, audit log and outbox.

On both databases: CHECK constraints that keep totals non-negative and forbid a negative available balance on
accounts that do not allow one; entries, lines and audit records are append-only (triggers refuse UPDATE and
DELETE). On PostgreSQL only: a deferred constraint trigger that refuses, at commit, any entry whose lines do not
sum to zero per asset or that has fewer than two lines, however the rows were written.

Revision ID: 0001
Revises:
Create Date: 2026-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import Amount, JsonText, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CODE, ID, ASSET = 200, 64, 16
GENESIS = "0" * 64
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _non_negative(column: str) -> str:
    return f"{column} >= 0" if _postgres() else f"substr({column}, 1, 1) <> '-'"


def _account_checks() -> list[sa.CheckConstraint]:
    checks = [
        sa.CheckConstraint(_non_negative(c), name=f"ck_ledger_accounts_{c}_non_negative")
        for c in ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
    ]
    allow = "allow_negative" if _postgres() else "allow_negative = 1"
    checks.append(sa.CheckConstraint(f"{allow} OR {_non_negative('available')}", name="ck_ledger_accounts_available"))
    checks.append(
        sa.CheckConstraint("kind IN ('asset','liability','equity','revenue','expense')", name="ck_ledger_accounts_kind")
    )
    if _postgres():
        computed = (
            "available = CASE WHEN debit_normal THEN debits_posted - credits_posted - credits_pending "
            "ELSE credits_posted - debits_posted - debits_pending END"
        )
        checks.append(sa.CheckConstraint(computed, name="ck_ledger_accounts_available_computed"))
    return checks


def _ledger_tables() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("code", sa.String(CODE), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("asset", sa.String(ASSET), nullable=False),
        sa.Column("allow_negative", sa.Boolean, nullable=False),
        sa.Column("debit_normal", sa.Boolean, nullable=False),
        *(sa.Column(c, Amount, nullable=False) for c in ("debits_posted", "credits_posted", "debits_pending")),
        sa.Column("credits_pending", Amount, nullable=False),
        sa.Column("available", Amount, nullable=False),
        sa.UniqueConstraint("code", "asset", name="uq_ledger_accounts_code_asset"),
        *_account_checks(),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("idempotency_key", sa.String(CODE), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("quote_id", sa.String(ID)),
        sa.Column("reverses", sa.String(ID), sa.ForeignKey("ledger_entries.id", name="fk_entries_reverses")),
        sa.Column("hold_id", sa.String(ID)),
        sa.Column("meta", JsonText, nullable=False),
        sa.UniqueConstraint("reverses", name="uq_ledger_entries_reverses"),
    )
    op.create_index("ix_ledger_entries_created", "ledger_entries", ["created_at", "id"])
    op.create_table(
        "ledger_lines",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(ID), sa.ForeignKey("ledger_entries.id", name="fk_lines_entry"), nullable=False),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("account_code", sa.String(CODE), nullable=False),
        sa.Column("asset", sa.String(ASSET), nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.Column("balance_before", Amount, nullable=False),
        sa.Column("balance_after", Amount, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_code", "asset"], ["ledger_accounts.code", "ledger_accounts.asset"], name="fk_lines_account"
        ),
        sa.UniqueConstraint("entry_id", "line_no", name="uq_ledger_lines_entry_line"),
        sa.CheckConstraint("amount <> 0" if _postgres() else "CAST(amount AS REAL) <> 0", name="ck_lines_amount"),
        sa.CheckConstraint("line_no >= 0", name="ck_lines_line_no"),
    )
    op.create_index("ix_ledger_lines_account", "ledger_lines", ["account_code", "id"])
    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("idempotency_key", sa.String(CODE), nullable=False),
        sa.Column(
            "debit_account",
            sa.String(CODE),
            sa.ForeignKey("ledger_accounts.code", name="fk_holds_debit"),
            nullable=False,
        ),
        sa.Column(
            "credit_account",
            sa.String(CODE),
            sa.ForeignKey("ledger_accounts.code", name="fk_holds_credit"),
            nullable=False,
        ),
        sa.Column("asset", sa.String(ASSET), nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime),
        sa.Column("posted_amount", Amount),
        sa.Column("entry_id", sa.String(ID), sa.ForeignKey("ledger_entries.id", name="fk_holds_entry")),
        sa.Column("description", sa.Text, nullable=False),
        sa.CheckConstraint("state IN ('pending','posted','voided','expired')", name="ck_holds_state"),
    )
    op.create_index("ix_ledger_holds_pending", "ledger_holds", ["state", "expires_at"])
    op.create_table(
        "ledger_idempotency",
        sa.Column("key", sa.String(CODE), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("result_kind", sa.String(16), nullable=False),
        sa.Column("result_id", sa.String(ID), nullable=False),
    )


def _audit_and_outbox() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(ID), nullable=False, unique=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.String(CODE), nullable=False),
        sa.Column("action", sa.String(CODE), nullable=False),
        sa.Column("subject", sa.String(CODE), nullable=False),
        sa.Column("details", JsonText, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.create_table(
        "outbox",
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
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["available_at"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )


_APPEND_ONLY = ("ledger_entries", "ledger_lines", "audit_log")

_PG_FUNCTIONS = [
    """
CREATE FUNCTION cryptopay_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END $$
""",
    """
CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target varchar;
  line_count bigint;
  first_line integer;
  last_line integer;
  unbalanced boolean;
  bad record;
BEGIN
  IF TG_TABLE_NAME = 'ledger_lines' THEN
    -- Lines of an entry inserted by this same transaction are checked once, by that entry's own trigger.
    PERFORM 1 FROM ledger_entries WHERE id = NEW.entry_id AND xmin = pg_current_xact_id()::xid;
    IF FOUND THEN
      RETURN NULL;
    END IF;
    target := NEW.entry_id;
  ELSE
    target := NEW.id;
  END IF;
  SELECT coalesce(sum(n), 0), min(lo), max(hi), coalesce(bool_or(total <> 0), false)
    INTO line_count, first_line, last_line, unbalanced
    FROM (SELECT count(*) AS n, min(line_no) AS lo, max(line_no) AS hi, sum(amount) AS total
            FROM ledger_lines WHERE entry_id = target GROUP BY asset) AS t;
  IF unbalanced THEN
    SELECT asset, sum(amount) AS total INTO bad FROM ledger_lines WHERE entry_id = target
     GROUP BY asset HAVING sum(amount) <> 0 ORDER BY asset LIMIT 1;
    RAISE EXCEPTION 'ledger entry % does not sum to zero: % off by %', target, bad.asset, bad.total
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
  END IF;
  -- Lines numbered 0..n-1 (n >= 2): so every entry has lines 0 and 1, and a line added to an old entry later
  -- either collides with them (unique) or is numbered 2 or more, which fires the line trigger below.
  IF line_count < 2 OR first_line <> 0 OR last_line <> line_count - 1 THEN
    RAISE EXCEPTION 'ledger entry % has % line(s) numbered % to %; it needs two or more numbered from 0',
      target, line_count, first_line, last_line
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
  END IF;
  RETURN NULL;
END $$
""",
]


def _pg_triggers() -> None:
    for statement in _PG_FUNCTIONS:
        op.execute(statement)
    # One check per entry, at commit. A line fires the check itself only when numbered 2 or more: lines 0 and 1
    # belong to their entry's own insert (see the numbering rule in the function), so a two-line transfer costs
    # one trigger call, not three.
    op.execute(
        "CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced()"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER ledger_lines_balanced AFTER INSERT ON ledger_lines "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.line_no >= 2) "
        "EXECUTE FUNCTION ledger_check_entry_balanced()"
    )
    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cryptopay_refuse_change()"
        )


def _sqlite_triggers() -> None:
    for table in _APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"
            )


def upgrade() -> None:
    _ledger_tables()
    _audit_and_outbox()
    if _postgres():
        _pg_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    if _postgres():
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        for table in ("ledger_entries", "ledger_lines"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_balanced ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_check_entry_balanced()")
        op.execute("DROP FUNCTION IF EXISTS cryptopay_refuse_change()")
    for table in ("outbox", "audit_head", "audit_log", "ledger_idempotency", "ledger_holds", "ledger_lines"):
        op.drop_table(table)
    op.drop_table("ledger_entries")
    op.drop_table("ledger_accounts")
