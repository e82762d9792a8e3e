"""Personal wallet tables: wallets, phone verifications, transfers between people, and KYC limit usage.

Each aggregate is a JSON document (``documents.py``) plus the columns it is looked up by. ``wallet_usage`` is
plain columns: the limit check sums it per user and product on every movement (index on user and time).
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ASSET, ID, metadata
from cryptopay.adapters.sql.types import Amount, JsonText, UtcDateTime

__all__ = [
    "paybill_payments",
    "paybill_url_registrations",
    "phone_verifications",
    "wallet_buys",
    "wallet_deposits",
    "wallet_quotes",
    "wallet_transfers",
    "wallet_usage",
    "wallets",
]

PHONE = 320  # a keyed hash (64 hex digits) of the phone: see personal.py

# keep_existing: pytest's doctest collection (importlib mode) imports this module a second time under another
# name; the second import must reuse these tables on the shared MetaData instead of failing.
wallets = sa.Table(
    "wallets",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),  # the user id: one wallet per user
    sa.Column("phone", sa.String(PHONE), nullable=False, unique=True),
    sa.Column("username", sa.String(32), unique=True),
    # its look-alike skeleton (wallets.usernames.skeleton, review5 S1): unique, so look-alikes cannot race in; NULL on
    # the younger of look-alikes taken before the rule (migration 0138 keeps the older)
    sa.Column("username_skeleton", sa.String(32)),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("uq_wallets_username_skeleton", "username_skeleton", unique=True),
    keep_existing=True,
)

phone_verifications = sa.Table(
    "phone_verifications",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("phone", sa.String(PHONE), nullable=False, index=True),
    sa.Column("doc", JsonText, nullable=False),
    keep_existing=True,
)

wallet_transfers = sa.Table(
    "wallet_transfers",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("sender_id", sa.String(ID), nullable=False),
    sa.Column("recipient_id", sa.String(ID)),
    sa.Column("recipient_phone", sa.String(PHONE), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("claim_expires_at", UtcDateTime),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_wallet_transfers_sender", "sender_id", "id"),
    sa.Index("ix_wallet_transfers_recipient", "recipient_id", "id"),
    # claims only (migration 0090): a delivered send writes no entry here
    sa.Index(
        "ix_wallet_transfers_claims",
        "recipient_phone",
        postgresql_where=sa.text("state = 'awaiting_claim'"),
        sqlite_where=sa.text("state = 'awaiting_claim'"),
    ),
    # sends held for a frozen recipient (migration 0175): the officers' queue
    sa.Index(
        "ix_wallet_transfers_held",
        "id",
        postgresql_where=sa.text("state = 'held'"),
        sqlite_where=sa.text("state = 'held'"),
    ),
    keep_existing=True,
)

wallet_usage = sa.Table(
    "wallet_usage",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("user_id", sa.String(ID), nullable=False),
    sa.Column("product", sa.String(16), nullable=False),
    sa.Column("kes_value", Amount, nullable=False),
    sa.Column("asset", sa.String(ASSET), nullable=False, server_default="KES"),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("reference", sa.String(ID), nullable=False),
    sa.Index("ix_wallet_usage_user_at", "user_id", "at"),
    keep_existing=True,
)

wallet_buys = sa.Table(
    "wallet_buys",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("user_id", sa.String(ID), nullable=False),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("next_query_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_wallet_buys_user", "user_id", "id"),
    sa.Index("ix_wallet_buys_due", "state", "next_query_at"),
    keep_existing=True,
)

wallet_quotes = sa.Table(
    "wallet_quotes",
    metadata,
    sa.Column("quote_id", sa.String(ID), primary_key=True),  # an fx_quotes id, claimed by one owner
    sa.Column("owner_id", sa.String(ID), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("locked_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_by", sa.String(ID)),  # the buy, sale, bill or refund that used it (once)
    sa.Column("used_at", UtcDateTime),
    sa.Index("ix_wallet_quotes_expires", "expires_at"),  # the worker's wallets.prune_quotes
    keep_existing=True,
)

wallet_deposits = sa.Table(
    "wallet_deposits",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("user_id", sa.String(ID), nullable=False),
    sa.Column("network", sa.String(16), nullable=False),
    sa.Column("tx_key", sa.String(128), nullable=False),  # the transaction hash, lower-cased
    sa.Column("log_index", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("watching", sa.Boolean, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.UniqueConstraint("network", "tx_key", "log_index", name="uq_wallet_deposits_transfer"),
    sa.Index("ix_wallet_deposits_user", "user_id", "id"),
    sa.Index("ix_wallet_deposits_watching", "network", "watching", "id"),
    keep_existing=True,
)

# Payments to our paybill outside an STK prompt (C2B) and the URL registrations whose token their callbacks carry:
# one row per M-Pesa TransID (unique: a repeated confirmation finds the first).
paybill_payments = sa.Table(
    "paybill_payments",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("trans_id", sa.String(ID), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False),
    # while verifying (migration 0186): when to ask Transaction Status, and the open query's URL token digests
    sa.Column("check_at", UtcDateTime),
    sa.Column("status_digest", sa.String(64)),
    sa.Column("timeout_digest", sa.String(64)),
    # a Reversal sent to return it (migration 0200): its result and timeout URL token digests; whether Transaction
    # Status ever did not confirm it (the unverified counter, which operators' actions must not lower)
    sa.Column("reversal_digest", sa.String(64)),
    sa.Column("reversal_timeout_digest", sa.String(64)),
    sa.Column("was_unverified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_paybill_payments_state", "state", "id"),
    sa.Index("ix_paybill_payments_check_at", "check_at"),
    sa.Index("uq_paybill_payments_status_digest", "status_digest", unique=True),
    sa.Index("uq_paybill_payments_timeout_digest", "timeout_digest", unique=True),
    sa.Index("uq_paybill_payments_reversal_digest", "reversal_digest", unique=True),
    sa.Index("uq_paybill_payments_reversal_timeout_digest", "reversal_timeout_digest", unique=True),
    sa.Index("ix_paybill_payments_was_unverified", "was_unverified"),
    keep_existing=True,
)

paybill_url_registrations = sa.Table(
    "paybill_url_registrations",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("shortcode", sa.String(16), nullable=False),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_paybill_url_registrations_shortcode", "shortcode", "registered_at"),
    keep_existing=True,
)
