"""Webhook payload versions (review5 S8): each endpoint names the shape of the bodies it receives, each delivery the
shape its body was written in.

Revision ID: 0160
Revises: 0155
Create Date: 2026-12-07

Every existing endpoint and delivery is version 1 (flat amount strings, as they always were): an integration that
works keeps receiving what it parses. Version 2 (the API's money objects, counts as numbers) is asked for per endpoint.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0160"
down_revision = "0155"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("webhook_endpoints", "webhook_deliveries"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("payload_version", sa.Integer, nullable=False, server_default="1"))
            batch.create_check_constraint(f"ck_{table}_payload_version", "payload_version IN (1, 2)")


def downgrade() -> None:
    for table in ("webhook_deliveries", "webhook_endpoints"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"ck_{table}_payload_version", type_="check")
            batch.drop_column("payload_version")
