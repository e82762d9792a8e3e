"""Identity tables: users, refresh-token families, merchants, API keys and HTTP idempotency records.

Only hashes of secrets are stored (passwords: the hasher's string; refresh tokens and API key secrets: SHA-256).
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ASSET, CODE, ID, metadata
from cryptopay.adapters.sql.types import Amount, JsonText, UtcDateTime

__all__ = ["api_keys", "idempotency_records", "merchants", "refresh_tokens", "users"]

EMAIL = 320
HASH = 255

# keep_existing: pytest's doctest collection (importlib mode) imports this module a second time under another
# name; the second import must reuse these tables on the shared MetaData instead of failing.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("email", sa.Text),  # sealed (personal.py); none for a personal wallet that signed up by phone alone
    sa.Column("email_key", sa.String(EMAIL), unique=True),  # keyed hash of lower(email): one account per address
    sa.Column("password_hash", sa.String(HASH), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("display_name", sa.Text),  # sealed
    sa.Column("session_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("totp_secret", sa.Text),  # a vault blob (v1:<base64>) when the repository has a cipher
    sa.Column("totp_confirmed_at", UtcDateTime),
    sa.Column("totp_last_step", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("recovery_code_hashes", JsonText),  # SHA-256 of each unused recovery code
    sa.Column("phone", sa.String(EMAIL), unique=True),  # keyed hash of a verified phone, a personal wallet's login
    sa.Column("phone_sealed", sa.Text),  # the phone itself, sealed
    sa.Column("email_verified_at", UtcDateTime),  # the account proved its email (0043)
    sa.Column("email_token_hash", sa.String(HASH)),  # SHA-256 of the pending email-proof link's token (0046)
    sa.Column("email_token_expires_at", UtcDateTime),
    sa.Column("disabled_at", UtcDateTime),  # the account was disabled: released, or its profile erased (0072)
    sa.Column("appointed_by", sa.String(200)),  # who made the account staff, as the audit names them (0278)
    sa.Column("appointed_at", UtcDateTime),
    # Bumped by every write: an update from a stale read is refused, not applied over another (0290, R11-1).
    sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"),
    keep_existing=True,
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("family_id", sa.String(ID), nullable=False, index=True),
    sa.Column("user_id", sa.String(ID), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("token_hash", sa.String(HASH), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("rotated_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
    sa.Index("ix_refresh_tokens_user", "user_id"),
    keep_existing=True,
)

merchants = sa.Table(
    "merchants",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("owner_user_id", sa.String(ID), sa.ForeignKey("users.id"), nullable=False, unique=True),
    sa.Column("business_name", sa.String(CODE), nullable=False),
    sa.Column("settlement_schedule", sa.String(16), nullable=False),
    sa.Column("settlement_method", sa.String(16), nullable=False),
    sa.Column("settlement_destination", sa.Text, nullable=False),  # sealed (personal.py, 0030)
    sa.Column("settlement_minimum", Amount),
    sa.Column("settlement_minimum_asset", sa.String(ASSET)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("destination_ready_at", UtcDateTime),  # a new payout destination cools off until then
    sa.Column("closed_at", UtcDateTime),  # the relationship ended; retention counts from here (0030)
    # Bumped by every write: an update from a stale read is refused, not applied over another (0291, R11-3).
    sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"),
    keep_existing=True,
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("merchant_id", sa.String(ID), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("name", sa.String(CODE), nullable=False),
    sa.Column("scopes", JsonText, nullable=False),
    sa.Column("secret_hash", sa.String(HASH), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(ID), nullable=False),
    sa.Column("revoked_at", UtcDateTime),
    sa.Column("last_used_at", UtcDateTime),
    sa.Index("ix_api_keys_merchant", "merchant_id", "id"),
    sa.Index("ix_api_keys_creator", "merchant_id", "created_by"),
    keep_existing=True,
)

idempotency_records = sa.Table(
    "idempotency_records",
    metadata,
    sa.Column("scope", sa.String(CODE), primary_key=True),
    sa.Column("key", sa.String(HASH), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("response", JsonText),  # null while the first request is in flight
    keep_existing=True,
)

merchant_members = sa.Table(
    "merchant_members",
    metadata,
    sa.Column("user_id", sa.String(ID), sa.ForeignKey("users.id"), primary_key=True),  # one team per user
    sa.Column("merchant_id", sa.String(ID), sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.Column("added_by", sa.String(ID), nullable=False),
    keep_existing=True,
)

merchant_invitations = sa.Table(
    "merchant_invitations",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("merchant_id", sa.String(ID), sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("email", sa.Text, nullable=False),  # sealed (personal.py, 0030)
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("invited_by", sa.String(ID), nullable=False),
    sa.Column("accepted_at", UtcDateTime),
    sa.Column("accepted_by", sa.String(ID)),
    sa.Column("revoked_at", UtcDateTime),
    # the email's keyed hash (``PersonalData.lookup``; the email itself without keys): the per-address cap (0126)
    sa.Column("email_lookup", sa.Text),
    sa.Index("ix_merchant_invitations_email_lookup", "email_lookup", "created_at"),
    # Bumped by every write (and an acceptance): an update from a stale read is refused (0293, R11-3).
    sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"),
    keep_existing=True,
)
