"""A case is reported only with its STR filed (outside review R12-8): the FRC's goAML report id on the case.

The filing (report id, filing date, officer, the digest of the export filed) and the STR's exports live in the case's
document; ``str_reference`` repeats the report id under a unique index, so one goAML report is the filing of one
case and a filing names the case it belongs to.

Revision ID: 0294
Revises: 0295
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0294"
down_revision = "0295"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("compliance_cases", sa.Column("str_reference", sa.String(64), nullable=True))
    op.create_index("ux_compliance_cases_str_reference", "compliance_cases", ["str_reference"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_compliance_cases_str_reference", table_name="compliance_cases")
    op.drop_column("compliance_cases", "str_reference")
