"""Users may hold the compliance role: the check constraint of 0002 knew only personal, merchant and admin.

``cryptopay users set-role EMAIL compliance`` failed on SQL with "the database refused a value" (found by
``cryptopay demo wallet``, whose officer approves a national ID); the in-memory store never had the constraint.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_constraint("ck_users_role", type_="check")
        users.create_check_constraint("ck_users_role", sa.text("role IN ('personal','merchant','admin','compliance')"))


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_constraint("ck_users_role", type_="check")
        users.create_check_constraint("ck_users_role", sa.text("role IN ('personal','merchant','admin')"))
