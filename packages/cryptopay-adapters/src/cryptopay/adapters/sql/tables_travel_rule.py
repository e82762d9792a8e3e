"""The Travel Rule's table: one row per kept record, its IVMS101 data in the document (``record_json``), and the
columns it is found by (the transfer's direction and reference are unique together)."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = ["travel_rule_records"]

travel_rule_records = sa.Table(
    "travel_rule_records",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("reference", sa.String(ID), nullable=False),
    sa.Column("party_id", sa.String(ID), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.UniqueConstraint("direction", "reference", name="uq_travel_rule_transfer"),
    sa.Index("ix_travel_rule_party", "party_id", "id"),
    keep_existing=True,
)
