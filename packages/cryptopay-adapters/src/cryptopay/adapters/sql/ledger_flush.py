"""PostgreSQL's write path for the ledger: a transaction's entries, lines, balances and keys in ONE statement.

Each table gets its rows as parallel arrays (``unnest``), so the statement text never changes with the batch
size and psycopg prepares it once per connection. Foreign keys between the parts hold because they are checked
at the end of the statement; the zero-sum trigger runs at commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from cryptopay.core.ledger.model import AccountBalance, Entry
from cryptopay.core.ports.ledger import IdempotencyRecord
from sqlalchemy.engine import Connection

__all__ = ["flush_postgres"]

_FLUSH = sa.text(
    """
WITH new_entries AS (
  INSERT INTO ledger_entries (id, idempotency_key, description, created_at, quote_id, reverses, hold_id, meta)
  SELECT * FROM unnest(CAST(:e_id AS varchar[]), CAST(:e_key AS varchar[]), CAST(:e_desc AS text[]),
                       CAST(:e_at AS timestamptz[]), CAST(:e_quote AS varchar[]), CAST(:e_rev AS varchar[]),
                       CAST(:e_hold AS varchar[]), CAST(:e_meta AS text[]))
), new_lines AS (
  INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after)
  SELECT * FROM unnest(CAST(:l_entry AS varchar[]), CAST(:l_no AS int[]), CAST(:l_account AS varchar[]),
                       CAST(:l_asset AS varchar[]), CAST(:l_amount AS numeric[]), CAST(:l_before AS numeric[]),
                       CAST(:l_after AS numeric[]))
), new_balances AS (
  UPDATE ledger_accounts AS a
     SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dpe, credits_pending = v.cpe,
         available = v.av
    FROM unnest(CAST(:b_code AS varchar[]), CAST(:b_dp AS numeric[]), CAST(:b_cp AS numeric[]),
                CAST(:b_dpe AS numeric[]), CAST(:b_cpe AS numeric[]), CAST(:b_av AS numeric[]))
         AS v(code, dp, cp, dpe, cpe, av)
   WHERE a.code = v.code
)
INSERT INTO ledger_idempotency (key, request_hash, result_kind, result_id)
SELECT * FROM unnest(CAST(:k_key AS varchar[]), CAST(:k_hash AS varchar[]), CAST(:k_kind AS varchar[]),
                     CAST(:k_result AS varchar[]))
"""
)


def flush_postgres(
    conn: Connection,
    entries: Sequence[Entry],
    balances: Sequence[AccountBalance],
    keys: Sequence[IdempotencyRecord],
) -> None:
    """Write buffered ledger rows with one round trip (nothing to do when all are empty)."""
    if not (entries or balances or keys):
        return
    lines = [(e.id, n, line) for e in entries for n, line in enumerate(e.lines)]
    params = {
        "e_id": [e.id for e in entries],
        "e_key": [e.idempotency_key for e in entries],
        "e_desc": [e.description for e in entries],
        "e_at": [e.created_at for e in entries],
        "e_quote": [e.quote_id for e in entries],
        "e_rev": [e.reverses for e in entries],
        "e_hold": [e.hold_id for e in entries],
        "e_meta": [json.dumps([list(p) for p in e.metadata], separators=(",", ":")) for e in entries],
        "l_entry": [entry_id for entry_id, _, _ in lines],
        "l_no": [n for _, n, _ in lines],
        "l_account": [line.account for _, _, line in lines],
        "l_asset": [line.amount.asset.code for _, _, line in lines],
        "l_amount": [line.amount.amount for _, _, line in lines],
        "l_before": [line.balance_before for _, _, line in lines],
        "l_after": [line.balance_after for _, _, line in lines],
        "b_code": [b.account.code for b in balances],
        "b_dp": [b.debits_posted for b in balances],
        "b_cp": [b.credits_posted for b in balances],
        "b_dpe": [b.debits_pending for b in balances],
        "b_cpe": [b.credits_pending for b in balances],
        "b_av": [b.available.amount for b in balances],
        "k_key": [k.key for k in keys],
        "k_hash": [k.request_hash for k in keys],
        "k_kind": [k.result_kind for k in keys],
        "k_result": [k.result_id for k in keys],
    }
    conn.execute(_FLUSH, params)
