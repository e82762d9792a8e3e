"""Personal data sealed at rest: room for keyed hashes and sealed values, the users' sealed phone, and indexes
that find a data subject's audit records (by subject and by actor).

Lookup columns (``users.phone``, ``users.email_key``, ``wallets.phone``, ``phone_verifications.phone``,
``wallet_transfers.recipient_phone``) now hold 64-character keyed hashes; sealed values (``pii1:`` + base64 vault
blob) are longer than the plain ones, so ``users.email`` and ``users.display_name`` become text. SQLite does not
enforce lengths, so only PostgreSQL is altered. The rows themselves are sealed by ``seal_personal_data`` (run by
``cryptopay db upgrade`` with the deployment's keys, which a migration script does not hold).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_LOOKUPS = (
    ("users", "phone"),
    ("users", "email_key"),
    ("wallets", "phone"),
    ("phone_verifications", "phone"),
    ("wallet_transfers", "recipient_phone"),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("phone_sealed", sa.Text))
    op.create_index("ix_audit_log_subject", "audit_log", ["subject", "seq"])  # a data subject's export
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "seq"])
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _LOOKUPS:
        op.alter_column(table, column, type_=sa.String(320))
    for column in ("email", "display_name"):
        op.alter_column("users", column, type_=sa.Text)


def downgrade() -> None:
    # The widened columns stay wide: narrowing them would fail on the hashes and sealed values they now hold.
    op.drop_index("ix_audit_log_actor", "audit_log")
    op.drop_index("ix_audit_log_subject", "audit_log")
    with op.batch_alter_table("users") as users:
        users.drop_column("phone_sealed")
