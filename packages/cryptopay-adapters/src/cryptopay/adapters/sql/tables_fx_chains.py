"""FX quote, chain scan-cursor, withdrawal/nonce and hot-key tables."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ASSET, CODE, ID, metadata
from cryptopay.adapters.sql.types import Amount, JsonText, UtcDateTime
from cryptopay.adapters.sql.types_exact import ExactDecimal

__all__ = ["chain_nonces", "chain_scan_cursors", "chain_withdrawals", "fx_quotes", "hot_keys"]

ADDRESS = 128
HASH = 128
# keep_existing: pytest's doctest collection (importlib mode) imports this module a second time under another
# name; the second import must reuse these tables on the shared MetaData instead of failing.
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")

fx_quotes = sa.Table(
    "fx_quotes",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("base", sa.String(ASSET), nullable=False),
    sa.Column("quote", sa.String(ASSET), nullable=False),
    sa.Column("bid", ExactDecimal, nullable=False),
    sa.Column("ask", ExactDecimal, nullable=False),
    sa.Column("sources", JsonText, nullable=False),
    sa.Column("as_of", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    keep_existing=True,
)

chain_scan_cursors = sa.Table(
    "chain_scan_cursors",
    metadata,
    sa.Column("network", sa.String(CODE), primary_key=True),  # a network, or "<network>:<scanner>"
    sa.Column("block_number", BIGINT, nullable=False),
    sa.Column("block_hash", sa.String(HASH), nullable=False),
    sa.Column("block_time", UtcDateTime, nullable=False),
    keep_existing=True,
)

chain_nonces = sa.Table(
    "chain_nonces",
    metadata,
    sa.Column("network", sa.String(CODE), primary_key=True),
    sa.Column("address_key", sa.String(ADDRESS), primary_key=True),  # the sending address, lower-cased
    sa.Column("next_nonce", BIGINT, nullable=False),
    keep_existing=True,
)

chain_withdrawals = sa.Table(
    "chain_withdrawals",
    metadata,
    sa.Column("withdrawal_id", sa.String(ID), primary_key=True),
    sa.Column("network", sa.String(CODE), nullable=False),
    sa.Column("from_address", sa.String(ADDRESS), nullable=False),
    sa.Column("address_key", sa.String(ADDRESS), nullable=False),
    sa.Column("request_hash", sa.String(HASH), nullable=False),
    sa.Column("nonce", BIGINT, nullable=False),
    sa.Column("tx_hash", sa.String(HASH)),
    sa.Column("raw_tx", sa.Text),
    sa.Column("fee_cap", Amount),
    sa.Column("fee_cap_asset", sa.String(ASSET)),
    sa.UniqueConstraint("network", "address_key", "nonce", name="uq_chain_withdrawals_nonce"),
    keep_existing=True,
)

hot_keys = sa.Table(
    "hot_keys",
    metadata,
    sa.Column("key_id", sa.String(ID), primary_key=True),
    sa.Column("network", sa.String(CODE), nullable=False),
    sa.Column("label", sa.String(CODE), nullable=False),
    sa.Column("address", sa.String(ADDRESS), nullable=False),
    sa.Column("public_key", sa.String(256), nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=False),  # the private key, only ever as a vault blob
    sa.Column("created_at", UtcDateTime, nullable=False),
    keep_existing=True,
)
