"""Remittance orders: the JSON document plus the columns they are looked up by (public id, invoice, the worker's
``active`` flag with the id it walks in order, the state operators list by)."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ID, metadata
from cryptopay.adapters.sql.types import JsonText

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
    sa.Index("ix_remittance_orders_active", "active", "id"),
    sa.Index("ix_remittance_orders_state", "state", "id"),
    keep_existing=True,
)
