"""PostgreSQL's fast paths for the ledger: one round trip to read keys and lock accounts, one to write.

The writes of a transaction (entries, lines, balance updates, idempotency records) go as four JSON documents
into one statement (``json_populate_recordset`` against each table's row type), so the statement text never
changes with the batch size (psycopg prepares it once per connection) and the client encodes with the C JSON
encoder. Amounts travel as JSON strings and are parsed by PostgreSQL's ``numeric`` input: exact. Foreign keys
between the parts hold because they are checked at the end of the statement; the zero-sum trigger at commit.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from cryptopay.core.ledger.model import AccountBalance, Entry
from cryptopay.core.ports.ledger import IdempotencyRecord
from sqlalchemy.engine import Connection, Dialect

__all__ = ["PREFETCH", "compiled", "flush_postgres"]

_FLUSH = sa.text(
    """
WITH new_entries AS (
  INSERT INTO ledger_entries (id, idempotency_key, description, created_at, quote_id, reverses, hold_id, meta)
  SELECT id, idempotency_key, description, created_at, quote_id, reverses, hold_id, meta
    FROM json_populate_recordset(NULL::ledger_entries, CAST(:entries AS json))
), new_lines AS (
  INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after)
  SELECT entry_id, line_no, account_code, asset, amount, balance_before, balance_after
    FROM json_populate_recordset(NULL::ledger_lines, CAST(:lines AS json))
), new_balances AS (
  UPDATE ledger_accounts AS a
     SET debits_posted = v.debits_posted, credits_posted = v.credits_posted,
         debits_pending = v.debits_pending, credits_pending = v.credits_pending, available = v.available
    FROM json_populate_recordset(NULL::ledger_accounts, CAST(:balances AS json)) AS v
   WHERE a.code = v.code
)
INSERT INTO ledger_idempotency (key, request_hash, result_kind, result_id)
SELECT key, request_hash, result_kind, result_id
  FROM json_populate_recordset(NULL::ledger_idempotency, CAST(:keys AS json))
"""
)

# Read idempotency keys and lock accounts (in code order) in one round trip; ``kind`` tells the rows apart.
PREFETCH = sa.text(
    """
WITH locked AS (
  SELECT * FROM ledger_accounts WHERE code = ANY(CAST(:codes AS varchar[])) ORDER BY code FOR UPDATE
)
SELECT 'a' AS kind, code, kind AS account_kind, asset, allow_negative, debits_posted, credits_posted,
       debits_pending, credits_pending, NULL AS request_hash, NULL AS result_kind, NULL AS result_id
  FROM locked
UNION ALL
SELECT 'k', key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, request_hash, result_kind, result_id
  FROM ledger_idempotency WHERE key = ANY(CAST(:keys AS varchar[]))
"""
)


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=str, separators=(",", ":"))


def flush_postgres(
    conn: Connection,
    entries: Sequence[Entry],
    balances: Sequence[AccountBalance],
    keys: Sequence[IdempotencyRecord],
) -> None:
    """Write buffered ledger rows with one statement (nothing to do when all are empty)."""
    if not (entries or balances or keys):
        return
    entry_rows = [
        {
            "id": e.id,
            "idempotency_key": e.idempotency_key,
            "description": e.description,
            "created_at": e.created_at.isoformat(),
            "quote_id": e.quote_id,
            "reverses": e.reverses,
            "hold_id": e.hold_id,
            "meta": json.dumps([list(p) for p in e.metadata], separators=(",", ":")) if e.metadata else "[]",
        }
        for e in entries
    ]
    line_rows = [
        {
            "entry_id": e.id,
            "line_no": n,
            "account_code": line.account,
            "asset": line.amount.asset.code,
            "amount": str(line.amount.amount),
            "balance_before": str(line.balance_before),
            "balance_after": str(line.balance_after),
        }
        for e in entries
        for n, line in enumerate(e.lines)
    ]
    balance_rows = [
        {
            "code": b.account.code,
            "debits_posted": str(b.debits_posted),
            "credits_posted": str(b.credits_posted),
            "debits_pending": str(b.debits_pending),
            "credits_pending": str(b.credits_pending),
            "available": str(b.available.amount),
        }
        for b in balances
    ]
    key_rows = [
        {"key": k.key, "request_hash": k.request_hash, "result_kind": k.result_kind, "result_id": k.result_id}
        for k in keys
    ]
    params = {"entries": _json(entry_rows), "lines": _json(line_rows), "balances": _json(balance_rows)}
    params["keys"] = _json(key_rows)
    driver = conn.connection.driver_connection
    if isinstance(driver, psycopg.Connection) and driver.info.pipeline_status != psycopg.pq.PipelineStatus.OFF:
        # Inside the commit pipeline: queue the statement on the driver (SQLAlchemy compiled it once); its result
        # is read at the COMMIT's sync. Skipping SQLAlchemy's result handling here saves a good share of CPU.
        driver.execute(compiled(_FLUSH, conn.dialect), params)
    else:
        conn.execute(_FLUSH, params)


@functools.cache
def compiled(statement: sa.TextClause, dialect: Dialect) -> str:
    """The statement as SQLAlchemy compiles it for the dialect's driver (psycopg ``%(name)s`` parameters)."""
    return str(statement.compile(dialect=dialect))
