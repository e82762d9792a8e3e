"""Held merchant payments an officer decided before review8 R5: their invoice's payment gets the decision's mark.

Since R5 an invoice reads a held payment awaiting an officer as a payment still confirming (``processing``); the
officer's decision marks it on the invoice in the same unit of work (``released``: it counts as any payment;
``kept_out``, returned or kept: it counts no more). A payment decided before that change was never marked, so on its
invoice's next refresh it read as still awaiting an officer: ``processing`` again, for good (lastread A8). The
decision is stored on the payment's credit (``payment_credits.doc``: ``decision``), so each standing credit's decision
(the transfer's latest generation, not reversed) is written on the held payment it names, when that payment is still
on the chain and carries no mark. The invoice's state is left as it is: its next refresh derives it from the marks, as
R5's decision would have (a released payment settles it; one kept out leaves it as it read before).

Revision ID: 0270
Revises: 0200
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import document_text

revision = "0270"
down_revision = "0200"
branch_labels = None
depends_on = None

_KEPT_OUT = {"returned", "kept"}


def upgrade() -> None:
    conn = op.get_bind()
    credits = sa.table("payment_credits", sa.column("invoice_id", sa.String), sa.column("doc", sa.Text))
    invoices = sa.table("invoices", sa.column("id", sa.String), sa.column("doc", sa.Text))
    decided = _standing_decisions(conn.execute(sa.select(credits.c.doc).where(credits.c.doc.like('%"held":true%'))))
    for invoice_id in sorted({invoice_id for invoice_id, _ in decided}):
        row = conn.execute(sa.select(invoices.c.doc).where(invoices.c.id == invoice_id)).one_or_none()
        if row is None:
            continue
        doc = json.loads(row.doc)
        if _mark(doc, {key: decision for (owner, key), decision in decided.items() if owner == invoice_id}):
            conn.execute(invoices.update().where(invoices.c.id == invoice_id).values(doc=document_text(doc)))


def _standing_decisions(rows: Any) -> dict[tuple[str, tuple[str, str, int]], str]:
    """(invoice id, transfer key) -> the decision on its latest credit, when that credit is held and not reversed."""
    latest: dict[tuple[str, tuple[str, str, int]], dict[str, Any]] = {}
    for row in rows:
        credit = json.loads(row.doc)
        network, tx_hash, index = credit["transfer"]
        key = (credit["invoice_id"], (network, tx_hash, int(index)))
        if key not in latest or credit["generation"] > latest[key]["generation"]:
            latest[key] = credit
    return {
        key: credit["decision"]
        for key, credit in latest.items()
        if credit.get("held") and credit.get("decision") and credit.get("reversal_entry_id") is None
    }


def _mark(doc: dict[str, Any], decisions: dict[tuple[str, str, int], str]) -> bool:
    """Write each decision on the held, unmarked payment it names; whether any was written."""
    changed = False
    for payment in doc.get("payments", []):
        transfer = payment["transfer"]
        decision = decisions.get((transfer["network"], transfer["tx_hash"], int(transfer["index"])))
        unmarked = not payment.get("released") and not payment.get("kept_out")
        if decision is None or not payment.get("held") or payment.get("withdrawn") or not unmarked:
            continue
        payment["released"], payment["kept_out"] = decision == "released", decision in _KEPT_OUT
        changed = True
    return changed


def downgrade() -> None:
    """Nothing to undo: the marks are what R5's code (the revision before) writes itself."""
