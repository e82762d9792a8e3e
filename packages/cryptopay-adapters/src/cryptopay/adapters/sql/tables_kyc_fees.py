"""KYC profiles and fee schedule versions: each a JSON document (``documents.py``) plus the columns it is queried by.

Amounts and percents live only in the documents, as exact decimal strings (never floats). One profile per party
(primary key ``party_id``); one row per fee schedule version (primary key product, asset, name, version).
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ASSET, CODE, ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = ["fee_schedules", "kyc_profiles"]

# keep_existing: pytest's doctest collection (importlib mode) imports this module a second time under another
# name; the second import must reuse these tables on the shared MetaData instead of failing.
kyc_profiles = sa.Table(
    "kyc_profiles",
    metadata,
    sa.Column("party_id", sa.String(ID), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("level", sa.Integer),
    sa.Column("requested_level", sa.Integer),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_kyc_profiles_status", "status", "party_id"),
    keep_existing=True,
)

fee_schedules = sa.Table(
    "fee_schedules",
    metadata,
    sa.Column("product", sa.String(32), primary_key=True),
    sa.Column("asset", sa.String(ASSET), primary_key=True),
    sa.Column("name", sa.String(CODE), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("effective_from", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    keep_existing=True,
)
