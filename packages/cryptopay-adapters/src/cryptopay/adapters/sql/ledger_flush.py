"""PostgreSQL's fast paths for the ledger: new entries in one round trip; anything else in two (read keys and lock
accounts, then write and commit).

Brand-new entries (``SqlLedgerStore.post_drafts``) are one ``EXECUTE`` of ``ledger_post_new_entries`` (migration
0006) in autocommit mode: the function locks, checks, writes and returns the balance history, or declines
(SQLSTATE ``CPL01``) with nothing written. Everything else goes through a ``SqlLedgerSession``.

A session's writes (entries, lines, balance updates, idempotency records) go as four JSON documents into one
statement (``json_populate_recordset`` against each table's row type), so the statement text never
changes with the batch size and the client encodes with the C JSON encoder. Amounts travel as JSON strings and
are parsed by PostgreSQL's ``numeric`` input: exact. Lines are checked against their entry and account at the end
of the statement, the zero-sum trigger at commit. Each balance row is found by an index probe (``LATERAL ...
LIMIT 1``, then by ``ctid``): json_populate_recordset is estimated at 100 rows whatever it holds, and against a
small accounts table the planner would otherwise hash-join a sequential scan of every account.

The session's two statements exist twice: as SQLAlchemy text (a unit of work runs them inside its own
transaction) and as server-side prepared statements (``prepared.Statement``: ``PREPARE`` once per connection, with
the post statement), which a ledger-owned transaction sends over the simple-query protocol together with its
``BEGIN`` and its ``COMMIT``: ``BEGIN; EXECUTE prefetch(...)``, then ``EXECUTE flush(...); COMMIT``. Two round
trips, a cached plan, and far less client work than a psycopg pipeline. The parameters are bound client-side by
psycopg's ``ClientCursor``, which quotes them with libpq's escaping. A driver-owned unit of work sends the same
prepared flush statement with its ``COMMIT``; the P2P send's instead makes the ledger's writes in its own write
statement (``WRITE_CTES``: each table's rows as one array of a row type, ``rows_literal``), one statement in all.
"""

from __future__ import annotations

import decimal
import functools
import json
import re
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from cryptopay.adapters.sql import prepared
from cryptopay.adapters.sql.prepared import Statement
from cryptopay.core.ledger.model import AccountBalance, Entry, EntryDraft
from cryptopay.core.ports.ledger import IdempotencyRecord
from sqlalchemy.engine import Connection, Dialect

__all__ = [
    "DECLINED",
    "FLUSH_STATEMENT",
    "NO_WRITES",
    "POST_STATEMENT",
    "PREFETCH",
    "PREFETCH_STATEMENT",
    "WRITE_ARRAY_TYPES",
    "WRITE_CTES",
    "PreparedLedger",
    "compiled",
    "draft_params",
    "flush_params",
    "flush_postgres",
    "rows_literal",
    "write_arrays",
]

_FLUSH_SQL = """
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
   CROSS JOIN LATERAL (SELECT t.ctid FROM ledger_accounts AS t WHERE t.code = v.code LIMIT 1) AS target
   WHERE a.ctid = target.ctid
)
INSERT INTO ledger_idempotency (key, request_hash, result_kind, result_id)
SELECT key, request_hash, result_kind, result_id
  FROM json_populate_recordset(NULL::ledger_idempotency, CAST(:keys AS json))
"""

# The same writes as arrays of rows (one parameter a table, ``unnest``ed into it): the data-modifying CTEs of a
# statement that writes other rows too, the P2P send's write (``repositories.wallets``), so that a send's ledger and
# wallet rows go in one statement. The rows' types are migration 0110's (``cryptopay_entry_row``, ...): an array
# literal read by the fields' own input functions, no JSON document parsed and no record populated from one
# (json_populate_recordset was a tenth of the server's instructions per send). Five arrays, not one a column: each
# array parameter costs the server a parse and a look-up of its type's input function (30 of them cost more than the
# JSON documents they replaced).
WRITE_CTES = """
new_entries AS (
  INSERT INTO ledger_entries (id, idempotency_key, description, created_at, quote_id, reverses, hold_id, meta)
  SELECT * FROM unnest(CAST(%(w_entries)s AS cryptopay_entry_row[]))
), new_lines AS (
  INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after)
  SELECT * FROM unnest(CAST(%(w_lines)s AS cryptopay_line_row[]))
), new_balances AS (
  UPDATE ledger_accounts AS a
     SET debits_posted = v.debits_posted, credits_posted = v.credits_posted, debits_pending = v.debits_pending,
         credits_pending = v.credits_pending, available = v.available
    FROM unnest(CAST(%(w_balances)s AS cryptopay_balance_row[])) AS v
   CROSS JOIN LATERAL (SELECT t.ctid FROM ledger_accounts AS t WHERE t.code = v.code LIMIT 1) AS target
   WHERE a.ctid = target.ctid
), new_keys AS (
  INSERT INTO ledger_idempotency (key, request_hash, result_kind, result_id)
  SELECT * FROM unnest(CAST(%(w_keys)s AS cryptopay_key_row[]))
)"""
WRITE_ARRAY_TYPES: tuple[tuple[str, str], ...] = (
    ("w_entries", "cryptopay_entry_row[]"),
    ("w_lines", "cryptopay_line_row[]"),
    ("w_balances", "cryptopay_balance_row[]"),
    ("w_keys", "cryptopay_key_row[]"),
)
"""The parameters of ``WRITE_CTES`` (``write_arrays`` gives their values), in a ``Statement``'s ``types`` form."""
NO_WRITES: dict[str, str] = {name: "{}" for name, _ in WRITE_ARRAY_TYPES}
"""``WRITE_CTES``' parameters when the ledger writes nothing (or has written its rows already)."""


# Read idempotency keys and lock accounts (in code order) in one round trip; ``kind`` tells the rows apart.
# Each account and each key is found by an index probe (``LATERAL ... LIMIT 1``, which the planner cannot turn into
# a join), as the wallet send's read finds them: a join from ``unnest`` or a filter with ``= ANY`` is planned from the
# tables' statistics, and with a fresh or grown table's (or a cached generic plan's) the planner chose a sequential
# scan testing every account and every key against the wanted ones, a cost growing with the keys (one more per entry).
_PREFETCH_SQL = """
WITH wanted AS (
  SELECT code FROM unnest(CAST(:codes AS varchar[])) AS w (code) ORDER BY code
), locked AS (
  SELECT a.* FROM wanted
   CROSS JOIN LATERAL (SELECT * FROM ledger_accounts AS t WHERE t.code = wanted.code LIMIT 1 FOR UPDATE) AS a
)
SELECT 'a' AS kind, code, kind AS account_kind, asset, allow_negative, debits_posted, credits_posted,
       debits_pending, credits_pending, NULL AS request_hash, NULL AS result_kind, NULL AS result_id
  FROM locked
UNION ALL
SELECT 'k', i.key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, i.request_hash, i.result_kind, i.result_id
  FROM unnest(CAST(:keys AS varchar[])) AS wanted_key (key)
 CROSS JOIN LATERAL (SELECT * FROM ledger_idempotency AS t WHERE t.key = wanted_key.key LIMIT 1) AS i
"""

# New entries only, the whole write in one statement: see migration 0006 (``ledger_post_new_entries``).
_POST_SQL = """
SELECT entry_id, line_no, balance_before, balance_after
  FROM ledger_post_new_entries(CAST(:entries AS json), CAST(:lines AS json))
"""
DECLINED = "CPL01"  # SQLSTATE of ledger_post_new_entries declining: nothing was written, take the general path

_FLUSH = sa.text(_FLUSH_SQL)
PREFETCH = sa.text(_PREFETCH_SQL)


def _statement(name: str, sql: str, types: tuple[tuple[str, str], ...]) -> Statement:
    """A ``Statement`` of the SQLAlchemy text ``sql`` (``:name`` parameters, psycopg's ``%(name)s`` in it)."""
    return Statement(name, re.sub(r"(?<!:):(\w+)\b", r"%(\1)s", sql), types)


# Change a statement's text, change its name: a pooled connection may hold the previous one.
PREFETCH_STATEMENT = _statement(
    "cryptopay_ledger_prefetch_s1", _PREFETCH_SQL, (("codes", "varchar[]"), ("keys", "varchar[]"))
)
FLUSH_STATEMENT = _statement(
    "cryptopay_ledger_flush_s1",
    _FLUSH_SQL,
    (("entries", "text"), ("lines", "text"), ("balances", "text"), ("keys", "text")),
)
"""The flush statement, with ``flush_params``: sent by a ledger-owned session and by a driver-owned unit of work
(``SqlUnitOfWork.commit``) alike, so a connection prepares it once."""
POST_STATEMENT = _statement("cryptopay_ledger_post_s1", _POST_SQL, (("entries", "text"), ("lines", "text")))


class PreparedLedger:
    """The ledger's statements as server-side prepared statements on one psycopg connection, sent as simple queries
    by ``cryptopay.adapters.sql.prepared`` (which also runs the wallet send's).

    ``info`` is the pool's per-connection dictionary: it remembers which statements this connection has prepared
    (each is prepared on first use, so a database without migration 0006 still runs the session's two). A prepared
    statement that has disappeared (``DEALLOCATE ALL``, which psycopg sends after a rollback when it holds prepared
    statements of its own) is prepared and sent again at once when the query sent was the first of its transaction
    or alone in autocommit mode; inside a transaction already under way the error reaches the caller as a
    retryable conflict (see ``prepared.run``).
    """

    def __init__(self, driver: psycopg.Connection[Any], info: MutableMapping[str, Any]) -> None:
        self._driver = driver
        self._info = info

    def ensure(self, *statements: Statement) -> None:
        """Prepare those of ``statements`` this connection does not hold yet (once per connection)."""
        prepared.ensure(self._driver, self._info, statements)

    def forget(self) -> None:
        prepared.forget(self._info)

    def execute(
        self, statement: Statement, params: Mapping[str, Any], *, begin: bool = False, commit: bool = False
    ) -> list[dict[str, Any]]:
        """``[BEGIN;] EXECUTE statement(params)[; COMMIT]`` in one round trip; the EXECUTE's rows."""
        return prepared.run(self._driver, self._info, [(statement, params)], begin=begin, commit=commit)


# Made once (``json.dumps`` with options builds an encoder at every call); the rows are trees, no cycle to look for.
_json = json.JSONEncoder(default=str, separators=(",", ":"), check_circular=False).encode
_compact = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _entry_head(entry: Entry | EntryDraft) -> dict[str, Any]:
    meta = _compact([list(p) for p in entry.metadata]) if entry.metadata else "[]"
    return {
        "id": entry.id,
        "idempotency_key": entry.idempotency_key,
        "description": entry.description,
        "created_at": entry.created_at.isoformat(),
        "quote_id": entry.quote_id,
        "meta": meta,
    }


def draft_params(drafts: Sequence[EntryDraft]) -> dict[str, str]:
    """The post statement's two JSON documents: the entries (with their request hashes) and their lines, each line
    with the bound its balances must stay under to be held exactly by the core's decimal context at the asset's
    decimals (``10 ** (precision - decimals)``)."""
    entry_rows = [{**_entry_head(d), "request_hash": d.request_hash} for d in drafts]
    precision = decimal.getcontext().prec
    line_rows = [
        {
            "entry_id": d.id,
            "seq": seq,
            "line_no": n,
            "account_code": p.account,
            "asset": p.amount.asset.code,
            "amount": str(p.amount.amount),
            "limit": f"1e{precision - p.amount.asset.decimals}",
        }
        for seq, d in enumerate(drafts)
        for n, p in enumerate(d.postings)
    ]
    return {"entries": _json(entry_rows), "lines": _json(line_rows)}


def flush_params(
    entries: Sequence[Entry], balances: Sequence[AccountBalance], keys: Sequence[IdempotencyRecord]
) -> dict[str, str]:
    """The flush statement's four JSON documents."""
    entry_rows = [{**_entry_head(e), "reverses": e.reverses, "hold_id": e.hold_id} for e in entries]
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
    return params


def write_arrays(
    entries: Sequence[Entry], balances: Sequence[AccountBalance], keys: Sequence[IdempotencyRecord]
) -> dict[str, str]:
    """``WRITE_CTES``' parameters: the rows ``flush_params`` gives as JSON documents, as array literals of rows
    (``rows_literal``)."""
    return {
        "w_entries": rows_literal(
            [
                (
                    e.id,
                    e.idempotency_key,
                    e.description,
                    e.created_at,
                    e.quote_id,
                    e.reverses,
                    e.hold_id,
                    _compact([list(p) for p in e.metadata]) if e.metadata else "[]",
                )
                for e in entries
            ]
        ),
        "w_lines": rows_literal(
            [
                (
                    e.id,
                    n,
                    line.account,
                    line.amount.asset.code,
                    line.amount.amount,
                    line.balance_before,
                    line.balance_after,
                )
                for e in entries
                for n, line in enumerate(e.lines)
            ]
        ),
        "w_balances": rows_literal(
            [
                (
                    b.account.code,
                    b.debits_posted,
                    b.credits_posted,
                    b.debits_pending,
                    b.credits_pending,
                    b.available.amount,
                )
                for b in balances
            ]
        ),
        "w_keys": rows_literal([(k.key, k.request_hash, k.result_kind, k.result_id) for k in keys]),
    }


# A text field is written bare in its row unless it is empty (NULL's spelling) or holds one of the characters
# record_in reads as syntax (``record_in`` keeps whitespace and reads anything else as it is); every row is then an
# array element in double quotes, so a quoted field's quotes and the backslashes and quotes escaped in it are escaped
# once more: a field's ``"`` is ``\\\"``, its ``\`` is ``\\\\`` in the array literal.
_ROW_SYNTAX = re.compile(r'[",()\\]').search
_ARRAY_QUOTE = '\\"'  # a field's double quote inside the element's: ``\"``


def _text(text: str) -> str:
    """A text field as it is written inside its (quoted) array element: bare, or quoted and escaped twice."""
    if not text:
        return '\\"\\"'
    if _ROW_SYNTAX(text) is None:
        return text
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\\\\\").replace('"', '\\\\\\"')
    return _ARRAY_QUOTE + text + _ARRAY_QUOTE


def _field(value: Any) -> str:
    """One field of a row literal as it is written inside its array element: nothing for NULL; a Decimal or int as
    its text (digits, sign, point, exponent: never quoted); a datetime in ISO form (a space, digits and ``-:.+``);
    a string (or anything else, as ``str`` gives it) by ``_text``."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if value is None:
        return ""
    if kind is decimal.Decimal or kind is int or kind is datetime:
        return str(value)  # a datetime's is its ``isoformat(" ")``
    return _text(str(value))


def rows_literal(rows: Sequence[Sequence[Any]]) -> str:
    r"""An array of rows as PostgreSQL's array and record input read it: each row ``(field,...)`` (``_field``)
    as a quoted array element, built with one join. The caller binds it as a string (``prepared.literal`` quotes it
    for SQL) and casts it to the array type of a composite type with those fields.

    >>> rows_literal([("ent_1", 0, decimal.Decimal("-1.50"), None), ('say "hi"', 1, 2, "")])
    '{"(ent_1,0,-1.50,)","(\\"say \\\\\\"hi\\\\\\"\\",1,2,\\"\\")"}'
    """
    if not rows:
        return "{}"
    return '{"(' + ')","('.join([",".join(map(_field, row)) for row in rows]) + ')"}'


def flush_postgres(
    conn: Connection,
    entries: Sequence[Entry],
    balances: Sequence[AccountBalance],
    keys: Sequence[IdempotencyRecord],
) -> None:
    """Write buffered ledger rows with one statement, inside the connection's transaction (nothing when empty)."""
    if not (entries or balances or keys):
        return
    params = flush_params(entries, balances, keys)
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
