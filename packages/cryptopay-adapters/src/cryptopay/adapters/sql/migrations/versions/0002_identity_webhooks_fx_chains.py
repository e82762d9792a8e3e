"""Identity, webhooks, FX quotes, chain cursors/withdrawals/nonces and hot keys.

Unique keys settle the races: one account per lower-cased email, one merchant per owner, one idempotency record
per (scope, key), one delivery per (event, endpoint), one withdrawal per nonce of a sending address.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import Amount, JsonText, UtcDateTime
from cryptopay.adapters.sql.types_exact import ExactDecimal

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CODE, ID, ASSET, EMAIL, HASH, URL, ADDRESS = 200, 64, 16, 320, 255, 2048, 128
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _identity() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("email", sa.String(EMAIL), nullable=False),
        sa.Column("email_key", sa.String(EMAIL), nullable=False),
        sa.Column("password_hash", sa.String(HASH), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("display_name", sa.String(CODE)),
        sa.UniqueConstraint("email_key", name="uq_users_email_key"),
        sa.CheckConstraint("role IN ('personal','merchant','admin')", name="ck_users_role"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("family_id", sa.String(ID), nullable=False),
        sa.Column("user_id", sa.String(ID), sa.ForeignKey("users.id", name="fk_refresh_tokens_user"), nullable=False),
        sa.Column("token_hash", sa.String(HASH), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("rotated_at", UtcDateTime),
        sa.Column("revoked_at", UtcDateTime),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_hash"),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("owner_user_id", sa.String(ID), sa.ForeignKey("users.id", name="fk_merchants_owner"), nullable=False),
        sa.Column("business_name", sa.String(CODE), nullable=False),
        sa.Column("settlement_schedule", sa.String(16), nullable=False),
        sa.Column("settlement_method", sa.String(16), nullable=False),
        sa.Column("settlement_destination", sa.String(CODE), nullable=False),
        sa.Column("settlement_minimum", Amount),
        sa.Column("settlement_minimum_asset", sa.String(ASSET)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("owner_user_id", name="uq_merchants_owner"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column(
            "merchant_id", sa.String(ID), sa.ForeignKey("merchants.id", name="fk_api_keys_merchant"), nullable=False
        ),
        sa.Column("name", sa.String(CODE), nullable=False),
        sa.Column("scopes", JsonText, nullable=False),
        sa.Column("secret_hash", sa.String(HASH), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(ID), nullable=False),
        sa.Column("revoked_at", UtcDateTime),
        sa.Column("last_used_at", UtcDateTime),
    )
    op.create_index("ix_api_keys_merchant", "api_keys", ["merchant_id", "id"])
    op.create_table(
        "idempotency_records",
        sa.Column("scope", sa.String(CODE), primary_key=True),
        sa.Column("key", sa.String(HASH), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("response", JsonText),
    )


def _webhooks() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("url", sa.String(URL), nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("secret_encrypted", sa.Boolean, nullable=False),
        sa.Column("events", JsonText, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_webhook_endpoints_merchant", "webhook_endpoints", ["merchant_id", "created_at", "id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("endpoint_id", sa.String(ID), nullable=False),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("event_type", sa.String(CODE), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", UtcDateTime),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", UtcDateTime),
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        sa.CheckConstraint("status IN ('pending','retrying','delivered','dead')", name="ck_webhook_deliveries_status"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_merchant", "webhook_deliveries", ["merchant_id", "created_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.String(ID),
            sa.ForeignKey("webhook_deliveries.id", name="fk_webhook_attempts_delivery"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response_snippet", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"])


def _fx_and_chains() -> None:
    op.create_table(
        "fx_quotes",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("base", sa.String(ASSET), nullable=False),
        sa.Column("quote", sa.String(ASSET), nullable=False),
        sa.Column("bid", ExactDecimal, nullable=False),
        sa.Column("ask", ExactDecimal, nullable=False),
        sa.Column("sources", JsonText, nullable=False),
        sa.Column("as_of", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "chain_scan_cursors",
        sa.Column("network", sa.String(CODE), primary_key=True),
        sa.Column("block_number", BIGINT, nullable=False),
        sa.Column("block_hash", sa.String(ADDRESS), nullable=False),
        sa.Column("block_time", UtcDateTime, nullable=False),
    )
    op.create_table(
        "chain_nonces",
        sa.Column("network", sa.String(CODE), primary_key=True),
        sa.Column("address_key", sa.String(ADDRESS), primary_key=True),
        sa.Column("next_nonce", BIGINT, nullable=False),
        sa.CheckConstraint("next_nonce >= 0", name="ck_chain_nonces_non_negative"),
    )
    op.create_table(
        "chain_withdrawals",
        sa.Column("withdrawal_id", sa.String(ID), primary_key=True),
        sa.Column("network", sa.String(CODE), nullable=False),
        sa.Column("from_address", sa.String(ADDRESS), nullable=False),
        sa.Column("address_key", sa.String(ADDRESS), nullable=False),
        sa.Column("request_hash", sa.String(ADDRESS), nullable=False),
        sa.Column("nonce", BIGINT, nullable=False),
        sa.Column("tx_hash", sa.String(ADDRESS)),
        sa.Column("raw_tx", sa.Text),
        sa.Column("fee_cap", Amount),
        sa.Column("fee_cap_asset", sa.String(ASSET)),
        sa.UniqueConstraint("network", "address_key", "nonce", name="uq_chain_withdrawals_nonce"),
    )
    op.create_table(
        "hot_keys",
        sa.Column("key_id", sa.String(ID), primary_key=True),
        sa.Column("network", sa.String(CODE), nullable=False),
        sa.Column("label", sa.String(CODE), nullable=False),
        sa.Column("address", sa.String(ADDRESS), nullable=False),
        sa.Column("public_key", sa.String(256), nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


_TABLES = (
    "hot_keys",
    "chain_withdrawals",
    "chain_nonces",
    "chain_scan_cursors",
    "fx_quotes",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "idempotency_records",
    "api_keys",
    "merchants",
    "refresh_tokens",
    "users",
)


def upgrade() -> None:
    _identity()
    _webhooks()
    _fx_and_chains()


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
