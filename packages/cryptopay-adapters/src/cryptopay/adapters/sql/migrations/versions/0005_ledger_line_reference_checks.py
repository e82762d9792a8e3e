"""PostgreSQL: a ledger line's entry and account are checked once per statement instead of once per line.

The foreign keys from ``ledger_lines`` to ``ledger_entries`` and ``ledger_accounts`` made PostgreSQL take a
``FOR KEY SHARE`` lock on the entry and on the account for every line: a heap write and a WAL record each, which
cost more than the rest of a batched write put together (``make bench-ledger``: 2,700 batched transfers/s with
them, 4,500 without). Those locks only guard against the referenced row being deleted or re-keyed meanwhile, and
that can no longer happen:

- entries are append-only already (UPDATE and DELETE refused since 0001);
- an account can no longer be deleted, and its identity (code, asset, kind, sign, overdraft) no longer changed;

so the same rule is kept by a statement-level trigger that checks every line the statement inserted against the
entries and accounts, one index probe per line and no lock (``OFFSET 0`` keeps each probe a correlated
subplan: an anti-join would be planned as a hash join over a sequential scan whenever the table's statistics
lag behind its growth): a line naming a missing entry, or an account that does not exist
in the line's asset, is refused (SQLSTATE 23503, constraint ``fk_lines_entry`` / ``fk_lines_account``, as
before). SQLite keeps its foreign keys (it takes no row locks for them).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_FUNCTIONS = [
    """
CREATE FUNCTION ledger_check_line_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.entry_id, n.line_no INTO bad FROM new_lines AS n
   WHERE NOT EXISTS (SELECT 1 FROM ledger_entries AS e WHERE e.id = n.entry_id OFFSET 0) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger line % names entry %, which does not exist', bad.line_no, bad.entry_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_lines_entry';
  END IF;
  SELECT n.account_code, n.asset INTO bad FROM new_lines AS n
   WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts AS a WHERE a.code = n.account_code AND a.asset = n.asset OFFSET 0)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger line names account % in %, which does not exist', bad.account_code, bad.asset
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_lines_account';
  END IF;
  RETURN NULL;
END $$
""",
    """
CREATE FUNCTION ledger_refuse_account_rekey() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'ledger account % cannot be deleted', OLD.code USING ERRCODE = 'restrict_violation';
  END IF;
  RAISE EXCEPTION 'ledger account % cannot change its code, asset, kind or overdraft rule', OLD.code
    USING ERRCODE = 'restrict_violation';
END $$
""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _FUNCTIONS:
        op.execute(statement)
    op.execute(
        "CREATE TRIGGER ledger_accounts_identity BEFORE DELETE OR UPDATE OF code, asset, kind, allow_negative, "
        "debit_normal ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION ledger_refuse_account_rekey()"
    )
    op.execute("ALTER TABLE ledger_lines DROP CONSTRAINT fk_lines_entry")
    op.execute("ALTER TABLE ledger_lines DROP CONSTRAINT fk_lines_account")
    op.execute(
        "CREATE TRIGGER ledger_lines_references AFTER INSERT ON ledger_lines REFERENCING NEW TABLE AS new_lines "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_line_references()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS ledger_lines_references ON ledger_lines")
    op.execute("DROP TRIGGER IF EXISTS ledger_accounts_identity ON ledger_accounts")
    op.execute(
        "ALTER TABLE ledger_lines ADD CONSTRAINT fk_lines_entry FOREIGN KEY (entry_id) REFERENCES ledger_entries (id)"
    )
    op.execute(
        "ALTER TABLE ledger_lines ADD CONSTRAINT fk_lines_account FOREIGN KEY (account_code, asset) "
        "REFERENCES ledger_accounts (code, asset)"
    )
    op.execute("DROP FUNCTION IF EXISTS ledger_check_line_references()")
    op.execute("DROP FUNCTION IF EXISTS ledger_refuse_account_rekey()")
