"""Webhook dead letters: a running count a redelivery cannot lower (the CryptopayWebhookDeadLetters alert).

Revision ID: 0064
Revises: 0058
Create Date: 2026-12-06

``webhook_counters`` holds one row per counter; ``dead_lettered`` is incremented in the transaction that makes a
delivery dead (``SqlWebhookDeliveries``) and exported as ``cryptopay_webhook_dead_letters_total``. It starts at the
number of deliveries dead now: each of them was dead-lettered at least once (Prometheus's ``increase()`` does not
count a new series' first value, so this start fires nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0064"
down_revision = "0058"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = op.create_table(
        "webhook_counters",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    )
    dead = op.get_bind().execute(sa.text("SELECT count(*) FROM webhook_deliveries WHERE status = 'dead'")).scalar_one()
    op.bulk_insert(counters, [{"name": "dead_lettered", "value": int(dead)}])


def downgrade() -> None:
    op.drop_table("webhook_counters")
