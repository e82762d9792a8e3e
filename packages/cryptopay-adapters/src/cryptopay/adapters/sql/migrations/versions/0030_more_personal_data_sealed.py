"""More personal data sealed at rest: payout destinations, merchants' settlement destinations, team invitations'
emails and compliance officers' case notes; and ``merchants.closed_at`` (when a merchant's relationship ended: the
retention rules for merchants count from it).

``payouts.destination`` now holds the destination's 64-character keyed hash (a recipient's daily B2C limit is looked
up by it; the column is wide enough already) and the payout document the sealed destination and B2B account
reference; ``merchants.settlement_destination`` and ``merchant_invitations.email`` hold sealed values (``pii1:`` +
base64 vault blob), longer than the plain ones, so they become text; case notes are sealed inside the case document.
SQLite does not enforce lengths, so only PostgreSQL is altered. The rows themselves are sealed by
``seal_personal_data`` (run by ``cryptopay db upgrade`` right after the migrations, with the deployment's keys, which
a migration script does not hold), as for 0026.

Downgrade: the columns stay text (narrowing them would fail on the sealed values they hold); code from before this
revision cannot open the sealed values, so a downgrade is for a database this revision has not sealed yet.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

_SEALED = (("merchants", "settlement_destination"), ("merchant_invitations", "email"))


def upgrade() -> None:
    with op.batch_alter_table("merchants") as merchants:
        merchants.add_column(sa.Column("closed_at", UtcDateTime))
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _SEALED:
        op.alter_column(table, column, type_=sa.Text)


def downgrade() -> None:
    # The text columns stay wide (see the module's docstring); a closing date is dropped with its column.
    with op.batch_alter_table("merchants") as merchants:
        merchants.drop_column("closed_at")
