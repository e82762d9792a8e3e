"""Merchant-payment tables: each aggregate is a JSON document (``documents.py``) plus the columns it is queried by.

The uniqueness rules of ``ports.payments`` are constraints here: one invoice per deposit address, one derivation
index per network, one settlement per merchant and cut-off, one payout per originator id.
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import CODE, ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = [
    "deposit_address_counters",
    "deposit_addresses",
    "invoice_addresses",
    "invoices",
    "order_key",
    "payment_credits",
    "payment_link_uses",
    "payment_links",
    "payout_queries",
    "payouts",
    "refunds",
    "settlements",
    "stores",
    "unmatched_answers",
    "wrong_network_payments",
]

ADDRESS = 128
ORDER_KEY = 400  # an order id is at most 100 characters; casefolding may lengthen it (ß -> ss)


def order_key(order_id: str | None) -> str | None:
    """The column an order search matches: the order id casefolded (``find_by_order`` is case-insensitive).

    >>> order_key("A-1001"), order_key(None)
    ('a-1001', None)
    """
    return order_id.casefold()[:ORDER_KEY] if order_id else None


BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")
# keep_existing: pytest's doctest collection (importlib mode) imports this module a second time under another
# name; the second import must reuse these tables on the shared MetaData instead of failing.

stores = sa.Table(
    "stores",
    metadata,
    sa.Column("merchant_id", sa.String(ID), primary_key=True),
    sa.Column("doc", JsonText, nullable=False),
    keep_existing=True,
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("merchant_id", sa.String(ID), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("monitoring_until", UtcDateTime, nullable=False),
    sa.Column("unconfirmed", sa.Boolean, nullable=False),  # has counted payments still short of their depth
    sa.Column("public_id", sa.String(ID), nullable=True),  # the hosted checkout page's id (unguessable)
    sa.Column("created_at", UtcDateTime, nullable=True),  # filled for every row since 0022
    sa.Column("order_key", sa.String(ORDER_KEY), nullable=True),  # the order id, casefolded (a search's column)
    sa.Column("exception", sa.String(24), nullable=True),  # InvoiceException, None for none (since 0040)
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_invoices_merchant", "merchant_id", "id"),
    sa.Index("ix_invoices_merchant_created", "merchant_id", "created_at"),
    sa.Index("ux_invoices_public_id", "public_id", unique=True),
    sa.Index("ix_invoices_expiry", "state", "expires_at"),
    sa.Index("ix_invoices_monitoring", "monitoring_until"),
    sa.Index("ix_invoices_exception", "merchant_id", "exception", "monitoring_until"),
    keep_existing=True,
)

invoice_addresses = sa.Table(
    "invoice_addresses",
    metadata,
    sa.Column("network", sa.String(CODE), primary_key=True),
    sa.Column("address_key", sa.String(ADDRESS), primary_key=True),
    sa.Column("invoice_id", sa.String(ID), sa.ForeignKey("invoices.id"), nullable=False),
    keep_existing=True,
)

deposit_address_counters = sa.Table(
    "deposit_address_counters",
    metadata,
    sa.Column("network", sa.String(CODE), primary_key=True),
    sa.Column("next_index", BIGINT, nullable=False),
    keep_existing=True,
)

deposit_addresses = sa.Table(
    "deposit_addresses",
    metadata,
    sa.Column("network", sa.String(CODE), primary_key=True),
    sa.Column("address_key", sa.String(ADDRESS), primary_key=True),
    sa.Column("address", sa.String(ADDRESS), nullable=False),
    sa.Column("index", BIGINT, nullable=False),
    sa.Column("invoice_id", sa.String(ID)),  # an invoice's address (with its merchant), or
    sa.Column("merchant_id", sa.String(ID)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("user_id", sa.String(ID)),  # a wallet user's (migration 0024)
    sa.UniqueConstraint("network", "index", name="uq_deposit_addresses_index"),
    sa.Index("ix_deposit_addresses_user", "user_id"),
    keep_existing=True,
)

payment_credits = sa.Table(
    "payment_credits",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("invoice_id", sa.String(ID), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(ID), nullable=False),
    sa.Column("clawback_pending", sa.Boolean, nullable=False),
    sa.Column("credited_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    # held by compliance and not decided yet (``PaymentCredit.awaiting_decision``, migration 0125): officers' list
    sa.Column("awaiting_decision", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_payment_credits_clawbacks", "merchant_id", "clawback_pending"),
    sa.Index("ix_payment_credits_merchant_credited", "merchant_id", "credited_at"),
    sa.Index("ix_payment_credits_awaiting_decision", "awaiting_decision", "id"),
    keep_existing=True,
)

settlements = sa.Table(
    "settlements",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("merchant_id", sa.String(ID), nullable=False),
    sa.Column("cutoff", UtcDateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.UniqueConstraint("merchant_id", "cutoff", name="uq_settlements_merchant_cutoff"),
    sa.Index("ix_settlements_state", "state", "cutoff"),
    keep_existing=True,
)

payouts = sa.Table(
    "payouts",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("settlement_id", sa.String(ID), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(ID), nullable=False),  # the owner: a merchant, or a wallet's user (0022)
    sa.Column("originator_id", sa.String(CODE), unique=True),
    sa.Column("conversation_id", sa.String(CODE), index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("check_at", UtcDateTime),
    sa.Column("destination", sa.String(CODE), nullable=False),  # the destination's keyed hash (personal.py, 0030)
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Column("receipt", sa.String(CODE)),  # M-Pesa's receipt or the bank reference it is booked with (0295)
    sa.Index("ix_payouts_state", "state", "created_at"),
    sa.Index("ix_payouts_receipt", "receipt"),
    sa.Index("ix_payouts_destination", "destination", "created_at"),
    sa.Index("ix_payouts_merchant", "merchant_id", "id"),
    keep_existing=True,
)

# Every key an answer may find its payout by (``Payout.answer_keys``: callback-token digests, status-query ids);
# the column keeps its first name, from when it held status queries' originator ids only.
payout_queries = sa.Table(
    "payout_queries",
    metadata,
    sa.Column("originator_id", sa.String(CODE), primary_key=True),
    sa.Column("payout_id", sa.String(ID), sa.ForeignKey("payouts.id"), nullable=False),
    keep_existing=True,
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("invoice_id", sa.String(ID), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_refunds_state", "state", "created_at"),
    keep_existing=True,
)

unmatched_answers = sa.Table(
    "unmatched_answers",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("matched_at", UtcDateTime),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_unmatched_answers_pending", "matched_at", "received_at"),
    keep_existing=True,
)

payment_links = sa.Table(
    "payment_links",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("public_id", sa.String(ID), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(ID), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("max_uses", sa.Integer),
    sa.Column("uses", sa.Integer, nullable=False),  # the count of record; the document's copy is refreshed from it
    sa.Column("doc", JsonText, nullable=False),
    # Not capped by max_uses since 0058: a late payment to an invoice whose use was given back takes it again, over
    # the cap if others filled it meanwhile (money is never refused; ``payment_links.link_uses``).
    sa.CheckConstraint("uses >= 0", name="ck_payment_links_uses"),
    sa.Index("ix_payment_links_merchant", "merchant_id", "id"),
    keep_existing=True,
)

# The use each invoice of a capped link holds (since 0058): ``held`` while the invoice is open or paid; false once
# it ended unpaid and gave it back (``payment_links.uses`` counts the held rows).
payment_link_uses = sa.Table(
    "payment_link_uses",
    metadata,
    sa.Column("invoice_id", sa.String(ID), primary_key=True),
    sa.Column("link_id", sa.String(ID), nullable=False),
    sa.Column("held", sa.Boolean, nullable=False),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=True),  # when it was last given back or taken again
    # an unpaid invoice's reservation of a capped link's use (0155): until then, and the client's keyed hash;
    # both cleared once it is paid, given back or freed
    sa.Column("reserved_until", UtcDateTime, nullable=True),
    sa.Column("client_key", sa.Text, nullable=True),
    sa.Index("ix_payment_link_uses_link", "link_id", "held"),
    keep_existing=True,
)

# Payments to an invoice's address on an EVM network it did not ask for (``core.payments.wrong_network``, 0038).
wrong_network_payments = sa.Table(
    "wrong_network_payments",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("invoice_id", sa.String(ID), nullable=False),
    sa.Column("merchant_id", sa.String(ID), nullable=False),
    sa.Column("network", sa.String(CODE), nullable=False),
    sa.Column("tx_key", sa.String(ADDRESS), nullable=False),  # the transaction hash, lower-cased
    sa.Column("log_index", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("followed", sa.Boolean, nullable=False),  # pending and not yet beyond any reorg
    sa.Column("doc", JsonText, nullable=False),
    sa.UniqueConstraint("network", "tx_key", "log_index", name="uq_wrong_network_payments_transfer"),
    sa.Index("ix_wrong_network_payments_invoice", "invoice_id", "id"),
    sa.Index("ix_wrong_network_payments_state", "state", "id"),
    sa.Index("ix_wrong_network_payments_followed", "network", "followed", "id"),
    keep_existing=True,
)
