"""Wallet withdrawals: the withdrawal as a JSON document plus the columns it is found by (the user, the address in
its normal form, the state and when it may be sent)."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = ["wallet_withdrawals"]

wallet_withdrawals = sa.Table(
    "wallet_withdrawals",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("user_id", sa.String(ID), nullable=False),
    sa.Column("network", sa.String(16), nullable=False),
    sa.Column("address_key", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("send_after", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_wallet_withdrawals_user", "user_id", "id"),
    sa.Index("ix_wallet_withdrawals_address", "user_id", "network", "address_key"),
    sa.Index("ix_wallet_withdrawals_due", "state", "send_after"),
    keep_existing=True,
)
