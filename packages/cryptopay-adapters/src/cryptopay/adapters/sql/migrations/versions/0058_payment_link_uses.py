"""Payment links: the cap counts paid invoices plus open reservations (review H4).

Revision ID: 0058
Revises: 0046
Create Date: 2026-12-06

``payment_link_uses`` holds the use each invoice of a link claimed: ``held`` while the invoice is open or paid,
false once it ended unpaid and gave it back (``cryptopay.core.payments.link_uses``). ``payment_links.uses`` is no
longer capped by ``max_uses`` in the database: a payment that arrives after its invoice gave its use back takes it
again, past the cap if other customers filled the link meanwhile (money is never refused).

Existing invoices of links (their metadata names the link) get their row: held unless they ended with nothing paid
(expired, cancelled or invalid, with no payment recorded), and each such link's count becomes its held rows, so
uses that abandoned checkouts took before this migration come back at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0058"
down_revision = "0046"
branch_labels = None
depends_on = None

_OPEN_OR_PAID = ("new", "processing", "settled")


def upgrade() -> None:
    op.create_table(
        "payment_link_uses",
        sa.Column("invoice_id", sa.String(64), primary_key=True),
        sa.Column("link_id", sa.String(64), nullable=False),
        sa.Column("held", sa.Boolean, nullable=False),
        sa.Column("claimed_at", UtcDateTime, nullable=False),
        sa.Column("changed_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_payment_link_uses_link", "payment_link_uses", ["link_id", "held"])
    with op.batch_alter_table("payment_links") as links:  # SQLite rebuilds the table
        links.drop_constraint("ck_payment_links_uses", type_="check")
        links.create_check_constraint("ck_payment_links_uses", sa.text("uses >= 0"))
    _backfill()


_links = sa.table("payment_links", sa.column("id", sa.String), sa.column("merchant_id", sa.String), sa.column("uses"))
_invoices = sa.table(
    "invoices",
    sa.column("id", sa.String),
    sa.column("merchant_id", sa.String),
    sa.column("state", sa.String),
    sa.column("created_at", UtcDateTime),
    sa.column("doc", sa.Text),
)
_uses = sa.table(
    "payment_link_uses",
    sa.column("invoice_id", sa.String),
    sa.column("link_id", sa.String),
    sa.column("held", sa.Boolean),
    sa.column("claimed_at", UtcDateTime),
)


def _backfill() -> None:
    conn = op.get_bind()
    links: dict[str, str] = {row.id: row.merchant_id for row in conn.execute(sa.select(_links))}
    if not links:
        return
    marked = _invoices.c.doc.like('%"payment_link"%')
    found = conn.execute(sa.select(_invoices).where(marked)).all()
    held: dict[str, int] = {}
    now = datetime.now(UTC)
    for row in found:
        doc = json.loads(row.doc)
        link_id = (doc.get("metadata") or {}).get("payment_link")
        if not isinstance(link_id, str) or links.get(link_id) != row.merchant_id:
            continue
        paid = any(not payment.get("withdrawn") for payment in doc.get("payments") or ())
        holds = row.state in _OPEN_OR_PAID or paid
        conn.execute(
            sa.insert(_uses).values(invoice_id=row.id, link_id=link_id, held=holds, claimed_at=row.created_at or now)
        )
        held[link_id] = held.get(link_id, 0) + (1 if holds else 0)
    for link_id, count in held.items():
        conn.execute(sa.update(_links).where(_links.c.id == link_id).values(uses=count))


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE payment_links SET uses = max_uses WHERE max_uses IS NOT NULL AND uses > max_uses"))
    with op.batch_alter_table("payment_links") as links:
        links.drop_constraint("ck_payment_links_uses", type_="check")
        links.create_check_constraint(
            "ck_payment_links_uses", sa.text("uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)")
        )
    op.drop_index("ix_payment_link_uses_link", table_name="payment_link_uses")
    op.drop_table("payment_link_uses")
