"""Remittance orders: the JSON document plus the columns they are looked up by (public id, invoice, the worker's
``active`` flag with the id it walks in order, the state operators list by, the originator's keys)."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = ["remittance_orders"]

# keep_existing: pytest's doctest collection (importlib mode) imports this module a second time under another
# name; the second import must reuse these tables on the shared MetaData instead of failing.
remittance_orders = sa.Table(
    "remittance_orders",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("public_id", sa.String(ID), nullable=False, unique=True),
    sa.Column("invoice_id", sa.String(ID), nullable=False, unique=True),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    # The originator's keyed refund address and sender name (``originator_keys``) and when the order opened: an
    # originator's orders of the last 24 hours (the Travel Rule's sum). NULL on orders opened before revision 0080.
    sa.Column("originator_address", sa.String(255)),
    sa.Column("originator_name", sa.String(255)),
    sa.Column("created_at", UtcDateTime),
    sa.Index("ix_remittance_orders_active", "active", "id"),
    sa.Index("ix_remittance_orders_state", "state", "id"),
    sa.Index("ix_remittance_orders_originator_address", "originator_address", "created_at"),
    sa.Index("ix_remittance_orders_originator_name", "originator_name", "created_at"),
    keep_existing=True,
)
