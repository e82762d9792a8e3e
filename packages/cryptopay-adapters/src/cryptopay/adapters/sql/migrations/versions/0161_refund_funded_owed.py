"""Refunds record what the merchant funded and owes for them (R25): ``funded`` (the part of the refund sold to the
merchant on credit, in the refunded asset) and ``owed`` (the shillings owed for it) in each refund's document.

Revision ID: 0161
Revises: 0160
Create Date: 2026-12-07

New refunds write both when they are funded (``Refunds._fund``). A refund funded before this revision is filled in
from its funding entry, ``refund:<id>:fund`` (``flows.fund_refund``): the debit to ``assets:merchant_receivable:...``
is what is owed, its one crypto debit (the asset's trading account) the crypto sold. Refunds without such an
entry are left as they are (nothing funded: both absent, read as null).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0161"
down_revision = "0160"
branch_labels = None
depends_on = None

_LINES = sa.text(
    "SELECT e.idempotency_key AS key, l.account_code AS account, l.asset AS asset, l.amount AS amount "
    "FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id "
    "WHERE e.idempotency_key LIKE :pattern AND l.amount > 0"
)


def _text(amount: Any) -> str:
    return format(Decimal(str(amount)).normalize(), "f")


def _funding() -> dict[str, dict[str, dict[str, str]]]:
    """Each funded refund's id -> its ``funded`` and ``owed`` money documents, from its funding entry's debits."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for row in op.get_bind().execute(_LINES, {"pattern": "refund:%:fund"}).mappings():
        refund_id = str(row["key"])[len("refund:") : -len(":fund")]
        if str(row["account"]).startswith("assets:merchant_receivable:"):
            field = "owed"
        elif str(row["asset"]) != "KES":  # the entry's one crypto debit: trading:<ASSET>, the crypto sold
            field = "funded"
        else:
            continue
        found.setdefault(refund_id, {})[field] = {"amount": _text(row["amount"]), "asset": str(row["asset"])}
    return found


def upgrade() -> None:
    bind = op.get_bind()
    for refund_id, fields in _funding().items():
        doc = bind.execute(sa.text("SELECT doc FROM refunds WHERE id = :id"), {"id": refund_id}).scalar()
        if doc is None:
            continue
        document = json.loads(doc) if isinstance(doc, str) else dict(doc)
        document.update(fields)
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        bind.execute(sa.text("UPDATE refunds SET doc = :doc WHERE id = :id"), {"doc": text, "id": refund_id})


def downgrade() -> None:
    bind = op.get_bind()
    for refund_id in _funding():
        doc = bind.execute(sa.text("SELECT doc FROM refunds WHERE id = :id"), {"id": refund_id}).scalar()
        if doc is None:
            continue
        document = json.loads(doc) if isinstance(doc, str) else dict(doc)
        document.pop("funded", None)
        document.pop("owed", None)
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        bind.execute(sa.text("UPDATE refunds SET doc = :doc WHERE id = :id"), {"doc": text, "id": refund_id})
