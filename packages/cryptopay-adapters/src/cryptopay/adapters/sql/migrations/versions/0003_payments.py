"""Merchant payments: stores, invoices (+ their address index), deposit addresses and counters, payment credits,
settlements, payouts (+ their status-query index) and refunds.

Aggregates are JSON documents next to the columns they are queried by; the constraints carry the rules that
concurrent transactions must not break (one invoice per address, one index per network, one settlement per
merchant and cut-off, one payout per originator id).

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CODE, ID, ADDRESS = 200, 64, 128
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _doc() -> sa.Column[object]:
    return sa.Column("doc", JsonText, nullable=False)


def _invoices() -> None:
    op.create_table("stores", sa.Column("merchant_id", sa.String(ID), primary_key=True), _doc())
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("monitoring_until", UtcDateTime, nullable=False),
        sa.Column("unconfirmed", sa.Boolean, nullable=False),
        _doc(),
    )
    op.create_index("ix_invoices_merchant", "invoices", ["merchant_id", "id"])
    op.create_index("ix_invoices_expiry", "invoices", ["state", "expires_at"])
    op.create_index("ix_invoices_monitoring", "invoices", ["monitoring_until"])
    op.create_table(
        "invoice_addresses",
        sa.Column("network", sa.String(CODE), primary_key=True),
        sa.Column("address_key", sa.String(ADDRESS), primary_key=True),
        sa.Column(
            "invoice_id",
            sa.String(ID),
            sa.ForeignKey("invoices.id", name="fk_invoice_addresses_invoice"),
            nullable=False,
        ),
    )
    op.create_table(
        "deposit_address_counters",
        sa.Column("network", sa.String(CODE), primary_key=True),
        sa.Column("next_index", BIGINT, nullable=False),
    )
    op.create_table(
        "deposit_addresses",
        sa.Column("network", sa.String(CODE), primary_key=True),
        sa.Column("address_key", sa.String(ADDRESS), primary_key=True),
        sa.Column("address", sa.String(ADDRESS), nullable=False),
        sa.Column("index", BIGINT, nullable=False),
        sa.Column("invoice_id", sa.String(ID), nullable=False),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("network", "index", name="uq_deposit_addresses_index"),
    )
    op.create_table(
        "payment_credits",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("invoice_id", sa.String(ID), nullable=False),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("clawback_pending", sa.Boolean, nullable=False),
        sa.Column("credited_at", UtcDateTime, nullable=False),
        _doc(),
    )
    op.create_index("ix_payment_credits_invoice_id", "payment_credits", ["invoice_id"])
    op.create_index("ix_payment_credits_clawbacks", "payment_credits", ["merchant_id", "clawback_pending"])


def _payouts() -> None:
    op.create_table(
        "settlements",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("cutoff", UtcDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _doc(),
        sa.UniqueConstraint("merchant_id", "cutoff", name="uq_settlements_merchant_cutoff"),
    )
    op.create_index("ix_settlements_state", "settlements", ["state", "cutoff"])
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("settlement_id", sa.String(ID), nullable=False),
        sa.Column("originator_id", sa.String(CODE)),
        sa.Column("conversation_id", sa.String(CODE)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("check_at", UtcDateTime),
        sa.Column("destination", sa.String(CODE), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        _doc(),
        sa.UniqueConstraint("originator_id", name="uq_payouts_originator_id"),
    )
    op.create_index("ix_payouts_settlement_id", "payouts", ["settlement_id"])
    op.create_index("ix_payouts_conversation_id", "payouts", ["conversation_id"])
    op.create_index("ix_payouts_state", "payouts", ["state", "created_at"])
    op.create_index("ix_payouts_destination", "payouts", ["destination", "created_at"])
    op.create_table(
        "payout_queries",
        sa.Column("originator_id", sa.String(CODE), primary_key=True),
        sa.Column(
            "payout_id", sa.String(ID), sa.ForeignKey("payouts.id", name="fk_payout_queries_payout"), nullable=False
        ),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("invoice_id", sa.String(ID), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        _doc(),
    )
    op.create_index("ix_refunds_invoice_id", "refunds", ["invoice_id"])
    op.create_index("ix_refunds_state", "refunds", ["state", "created_at"])


_TABLES = (
    "refunds",
    "payout_queries",
    "payouts",
    "settlements",
    "payment_credits",
    "deposit_addresses",
    "deposit_address_counters",
    "invoice_addresses",
    "invoices",
    "stores",
)


def upgrade() -> None:
    _invoices()
    _payouts()


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
