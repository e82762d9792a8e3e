"""Reconciliation results say how many differences each found (``found``), so old runs are pruned by SQL alone.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06

``ReconciliationRuns.prune`` keeps a run with differences for the audit period and a clean one for weeks: the column
(backfilled from each row's document) and an index on ``at`` let one ``DELETE`` choose them.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reconciliation_results", sa.Column("found", sa.Integer, nullable=False, server_default="0"))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT run_id, check_name, doc FROM reconciliation_results")).all()
    for run_id, check_name, doc in rows:
        found = int(json.loads(doc).get("found", 0))
        if found:
            bind.execute(
                sa.text("UPDATE reconciliation_results SET found = :found WHERE run_id = :run AND check_name = :check"),
                {"found": found, "run": run_id, "check": check_name},
            )
    op.create_index("ix_reconciliation_results_at", "reconciliation_results", ["at"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_results_at", table_name="reconciliation_results")
    with op.batch_alter_table("reconciliation_results") as batch:
        batch.drop_column("found")
