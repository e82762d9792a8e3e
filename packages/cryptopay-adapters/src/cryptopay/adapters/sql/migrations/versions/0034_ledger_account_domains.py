"""Ledger accounts: the kind and the four totals checked by domains instead of table CHECK constraints (PostgreSQL).

Revision ID: 0034
Revises: 0036
Create Date: 2026-12-06

PostgreSQL re-reads a table's CHECK constraints from their stored text (``stringToNode``) and plans them again in
every statement that writes the table, however few rows it writes: ``ledger_accounts`` had seven, and every posting
updates its balance rows (a P2P send's flush, two rows). The kind (one of five) and the four totals (never
negative) now live in domains, ``ledger_account_kind`` and ``ledger_total``, whose checks PostgreSQL keeps parsed
per connection and applies wherever a value becomes one (an ``INSERT``, an ``UPDATE`` that sets the column, a row
built by ``json_populate_recordset``): the same values are refused as before, and a balance update that does not
set the kind checks nothing about it. Measured with callgrind on a P2P send's statements as the adapter sends them
(a single-user backend running 50 and 250 sends, the difference divided by 200): 3,545,000 instructions per send
before, 3,462,000 after (-83,000, 2.3%).

``available >= 0`` (unless overdraft is allowed) and ``available`` computed from the totals stay table constraints
(they read several columns), under their names (``errors.translate`` maps the first to ``InsufficientFunds``).
SQLite keeps its CHECK constraints (it has no domains).

The identity trigger names the kind among its columns (``UPDATE OF ... kind``), so it is dropped and created again
around the type change. Existing rows satisfy the domains (the constraints they replace held).
"""

from __future__ import annotations

from alembic import op

revision = "0034"
down_revision = "0036"
branch_labels = None
depends_on = None

_TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
_KINDS = "'asset','liability','equity','revenue','expense'"
_IDENTITY = (
    "CREATE TRIGGER ledger_accounts_identity BEFORE DELETE OR UPDATE OF code, asset, kind, allow_negative, "
    "debit_normal ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION ledger_refuse_account_rekey()"
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    # The domains get their checks after the columns took them: a column changed to a domain that has checks is
    # rewritten (table and indexes, under an exclusive lock); changed to one without, it is not, and adding the
    # check to the domain then only scans the rows (the checks they satisfied until now were the same).
    op.execute("CREATE DOMAIN ledger_account_kind AS varchar(16)")
    op.execute("CREATE DOMAIN ledger_total AS numeric(38,18)")
    op.execute("DROP TRIGGER ledger_accounts_identity ON ledger_accounts")
    changes = ["DROP CONSTRAINT ck_ledger_accounts_kind", "ALTER COLUMN kind TYPE ledger_account_kind"]
    for total in _TOTALS:
        changes += [f"DROP CONSTRAINT ck_ledger_accounts_{total}_non_negative"]
        changes += [f"ALTER COLUMN {total} TYPE ledger_total"]
    op.execute(f"ALTER TABLE ledger_accounts {', '.join(changes)}")
    op.execute(_IDENTITY)
    op.execute(f"ALTER DOMAIN ledger_account_kind ADD CONSTRAINT ledger_account_kind_known CHECK (VALUE IN ({_KINDS}))")
    op.execute("ALTER DOMAIN ledger_total ADD CONSTRAINT ledger_total_non_negative CHECK (VALUE >= 0)")


def downgrade() -> None:
    if not _postgres():
        return
    op.execute("DROP TRIGGER ledger_accounts_identity ON ledger_accounts")
    changes = ["ALTER COLUMN kind TYPE varchar(16)"]
    changes += [f"ADD CONSTRAINT ck_ledger_accounts_kind CHECK (kind IN ({_KINDS}))"]
    for total in _TOTALS:
        changes += [
            f"ALTER COLUMN {total} TYPE numeric(38,18)",
            f"ADD CONSTRAINT ck_ledger_accounts_{total}_non_negative CHECK ({total} >= 0)",
        ]
    op.execute(f"ALTER TABLE ledger_accounts {', '.join(changes)}")
    op.execute(_IDENTITY)
    op.execute("DROP DOMAIN ledger_total")
    op.execute("DROP DOMAIN ledger_account_kind")
