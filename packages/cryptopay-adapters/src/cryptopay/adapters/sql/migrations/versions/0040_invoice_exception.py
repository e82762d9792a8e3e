"""Invoices: their exception as a column, so what arrived beyond a remittance order is found without reading every
watched invoice.

Revision ID: 0040
Revises: 0043
Create Date: 2026-12-06

``Remittances.refund_excess`` (every worker run, every 15 seconds) read every watched invoice of every merchant
and kept the remittance desk's closed ones whose exception says something arrived beyond them (paid over, late,
partial). It now asks for those only (``InvoiceRepository.watched_with_exception``): ``exception`` holds the
invoice's ``InvoiceException`` (NULL for none), written on every insert and update, and ``ix_invoices_exception``
(merchant, exception, end of the monitoring window) finds the desk's few. Existing rows are filled from their
document (the exception is never sealed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("exception", sa.String(24), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE invoices SET exception = NULLIF(doc::jsonb ->> 'exception', 'none')")
    else:
        op.execute("UPDATE invoices SET exception = NULLIF(json_extract(doc, '$.exception'), 'none')")
    op.create_index("ix_invoices_exception", "invoices", ["merchant_id", "exception", "monitoring_until"])


def downgrade() -> None:
    op.drop_index("ix_invoices_exception", table_name="invoices")
    op.drop_column("invoices", "exception")
