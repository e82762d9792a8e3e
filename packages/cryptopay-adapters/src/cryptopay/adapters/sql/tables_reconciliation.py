"""Reconciliation tables: Account Balance queries, recorded before they are sent and found by their token; every
reconciliation run's result per check."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = ["mpesa_balance_queries", "reconciliation_results"]

DIGEST = 128

mpesa_balance_queries = sa.Table(
    "mpesa_balance_queries",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("token_digest", sa.String(DIGEST), nullable=False, unique=True),
    sa.Column("answered_at", UtcDateTime),  # set with a balance (or a failure) when the answer came
    sa.Column("has_balance", sa.Boolean, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_mpesa_balance_queries_answered", "has_balance", "answered_at"),
    keep_existing=True,
)

reconciliation_results = sa.Table(
    "reconciliation_results",
    metadata,
    sa.Column("run_id", sa.String(ID), primary_key=True),
    sa.Column("check_name", sa.String(ID), primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),  # when the run read its snapshot
    sa.Column("ran", sa.Boolean, nullable=False),  # false: skipped (an outside source was not given)
    sa.Column("doc", JsonText, nullable=False),  # the CheckRecord, with its first differences
    sa.Column("found", sa.Integer, nullable=False, server_default="0"),  # how many differences (pruning: 0032)
    sa.Index("ix_reconciliation_results_latest", "check_name", "ran", "at"),
    sa.Index("ix_reconciliation_results_at", "at"),
    keep_existing=True,
)
