"""Treasury tables: sweeps (one open sweep per deposit address) and M-Pesa's float readings."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = ["float_readings", "sweeps"]

ADDRESS = 128

sweeps = sa.Table(
    "treasury_sweeps",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("network", sa.String(32), nullable=False),
    sa.Column("deposit_address", sa.String(ADDRESS), nullable=False),
    # The address while the sweep is open, NULL once it is closed: unique, so an address has one open sweep.
    sa.Column("open_address", sa.String(ADDRESS)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.UniqueConstraint("network", "open_address", name="uq_treasury_sweeps_open"),
    sa.Index("ix_treasury_sweeps_state", "state", "created_at"),
    keep_existing=True,
)

float_readings = sa.Table(
    "treasury_float_readings",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_treasury_float_readings_at", "at"),
    keep_existing=True,
)
