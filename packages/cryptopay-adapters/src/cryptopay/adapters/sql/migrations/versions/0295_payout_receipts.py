"""Payouts: the receipt they are booked with as an indexed column.

``PayoutRepository.with_receipt``/``with_receipts`` (a conclusion proposed or approved, a bank confirmation, a
statement's rows read as evidence) and the staff's transaction search found a payout by its M-Pesa receipt (or bank
reference) with a text ``LIKE`` over every payout's document: a full scan that grows with the payouts. ``receipt``
holds ``Payout.receipt`` (NULL until it is booked), written on every insert and update, and ``ix_payouts_receipt``
finds it. Existing rows are filled from their document (the receipt is never sealed). Not unique: one receipt is one
payment (``_receipt_free`` refuses a second), but a database holding a receipt twice from before that rule must
still upgrade (reconciliation reports it: ``one payout`` expected, ``2 payouts`` found).

Revision ID: 0295
Revises: 0293
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0295"
down_revision = "0293"
branch_labels = None
depends_on = None


# As the repository writes it (``payouts.model.mpesa_receipt``: trimmed, upper case; NULL for a text longer than the
# column, which only a malformed answer gives), so a receipt typed " sbx0000004 " before R13-12 is found as
# SBX0000004 and a 250-character answer does not stop the upgrade on PostgreSQL (lastread L3-1).
_FILLED = "CASE WHEN length(trim({r})) <= 200 THEN upper(trim({r})) END"


def upgrade() -> None:
    op.add_column("payouts", sa.Column("receipt", sa.String(200), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    stored = "doc::jsonb ->> 'receipt'" if postgres else "json_extract(doc, '$.receipt')"
    op.execute("UPDATE payouts SET receipt = " + _FILLED.format(r=stored))  # noqa: S608  # constant text only
    op.create_index("ix_payouts_receipt", "payouts", ["receipt"])


def downgrade() -> None:
    op.drop_index("ix_payouts_receipt", table_name="payouts")
    op.drop_column("payouts", "receipt")
