"""Payment links: an unpaid invoice of a capped link holds its use only as a short reservation (review5 S7).

Revision ID: 0155
Revises: 0138
Create Date: 2026-12-07

``payment_link_uses.reserved_until`` is when the reservation lapses (then the next claim frees the use, unless the
invoice was paid meanwhile) and ``client_key`` the keyed hash of the client that made it (open reservations are
capped per client); both are cleared once the use is kept for good, given back or freed. Existing rows have none:
the uses they hold stay held as before (``cryptopay.core.payments.link_uses``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0155"
down_revision = "0138"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_link_uses") as uses:
        uses.add_column(sa.Column("reserved_until", UtcDateTime, nullable=True))
        uses.add_column(sa.Column("client_key", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_link_uses") as uses:
        uses.drop_column("client_key")
        uses.drop_column("reserved_until")
