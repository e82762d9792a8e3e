"""Webhook tables: merchants' endpoints (secrets encrypted), deliveries (one per event and endpoint), attempts, and
running counters (``dead_lettered``: how many times a delivery became dead, for the dead-letter alert)."""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import CODE, ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = ["webhook_attempts", "webhook_counters", "webhook_deliveries", "webhook_endpoints"]

URL = 2048
# keep_existing: pytest's doctest collection (importlib mode) imports this module a second time under another
# name; the second import must reuse these tables on the shared MetaData instead of failing.
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("merchant_id", sa.String(ID), nullable=False),
    sa.Column("url", sa.String(URL), nullable=False),
    sa.Column("secret", sa.LargeBinary, nullable=False),  # a vault blob (or, in tests only, the plain bytes)
    sa.Column("secret_encrypted", sa.Boolean, nullable=False),
    sa.Column("events", JsonText, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("previous_secret", sa.LargeBinary),  # the rotated-out secret, sealed like ``secret``
    sa.Column("previous_secret_until", UtcDateTime),  # when it stops signing
    sa.Column("created_by", sa.String(ID)),  # the user who added it (0043); none for older ones and API keys
    sa.Column("payload_version", sa.Integer, nullable=False, server_default="1"),  # 1 or 2 (0160, webhooks.payloads)
    # Bumped by every write: a save from a stale read is refused, not applied over another (0292, R11-3).
    sa.Column("row_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("payload_version IN (1, 2)", name="ck_webhook_endpoints_payload_version"),
    sa.Index("ix_webhook_endpoints_merchant", "merchant_id", "created_at", "id"),
    keep_existing=True,
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
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
    sa.Column("payload_version", sa.Integer, nullable=False, server_default="1"),  # its body's version (0160)
    sa.CheckConstraint("payload_version IN (1, 2)", name="ck_webhook_deliveries_payload_version"),
    sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_merchant", "merchant_id", "created_at"),
    keep_existing=True,
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(ID), sa.ForeignKey("webhook_deliveries.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response_snippet", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
    keep_existing=True,
)

# One row per counter, only ever incremented (0064): ``dead_lettered`` rises in the transaction that makes a delivery
# dead, and a redelivery does not lower it (``SqlWebhookDeliveries.dead_lettered``).
webhook_counters = sa.Table(
    "webhook_counters",
    metadata,
    sa.Column("name", sa.String(CODE), primary_key=True),
    sa.Column("value", BIGINT, nullable=False),
    keep_existing=True,
)
