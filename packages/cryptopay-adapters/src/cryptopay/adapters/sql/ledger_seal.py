"""``LedgerSeals`` on SQL: ledger entries in commit order for the worker's ``ledger.seal`` (R10-6, migration 0272).

An entry's position is (the store's commit-order key, entry id). PostgreSQL: ``ledger_entries.commit_tx``, the writing
transaction's id (a column default, so a send or a posting sends nothing more); an entry is sealable once its
transaction is below ``pg_snapshot_xmin(pg_current_snapshot())``: every transaction below it has ended, and one that
has not (or has not begun) writes with a larger id, so nothing can commit into a range already sealed. Two sealers:
the head is claimed with ``pg_try_advisory_xact_lock``, the second skips. SQLite: the row id (one writer at a time,
and every seal transaction is a writer: ``BEGIN IMMEDIATE``). Verification reads in one snapshot (``REPEATABLE
READ`` on PostgreSQL, a read transaction on SQLite), so a seal committing meanwhile is not seen half.

A P2P send's (or claim's) entry is read with its transfer's fixed fields (``SealedTransfer``) from the
``wallet_transfers`` row: the id columns and the document's plain fields, never its sealed personal ones, so
``cryptopay audit verify --ledger`` needs no keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.audit import SqlAuditLog
from cryptopay.adapters.sql.errors import translating
from cryptopay.adapters.sql.tables import ledger_entries, ledger_lines, ledger_seal_head
from cryptopay.adapters.sql.tables_wallets import wallet_transfers
from cryptopay.core.ledger.seal import (
    SealedEntry,
    SealedLine,
    SealedTransfer,
    SealPosition,
    SealReport,
    sealed_transfer_id,
)
from cryptopay.core.ledger.sealing import LedgerSealing
from cryptopay.core.ports.ledger_seals import SealHead
from cryptopay.core.ports.storage import AuditLog
from cryptopay.core.system import SystemClock
from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlLedgerSeals", "verify_ledger_seals"]

STREAM = "ledger"
_LOCK_KEY = 0x6C65_6467_7365_616C  # "ledgseal": the advisory lock of the seal's head (PostgreSQL)
_CLAIM = sa.text("SELECT pg_try_advisory_xact_lock(:key)")
_FENCE: sa.ColumnElement[int] = sa.literal_column(
    "CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)", sa.BigInteger
)
_HEAD = sa.select(ledger_seal_head).where(ledger_seal_head.c.stream == STREAM)
_START = SealPosition(0, "")


def _tx(conn: Connection) -> sa.ColumnElement[Any]:
    postgres = conn.dialect.name == "postgresql"
    return sa.literal_column("ledger_entries.commit_tx" if postgres else "ledger_entries.rowid", sa.BigInteger)


def _slices(
    tx: sa.ColumnElement[Any], after: SealPosition, last: SealPosition | None = None
) -> list[sa.ColumnElement[bool]]:
    """The positions after ``after`` (up to ``last``, inclusive) as conditions each index can answer, in order: the
    rest of ``after``'s transaction (by entry id: the primary key; entries from before 0272 all share one key), the
    transactions between (PostgreSQL: the BRIN index), and the first part of ``last``'s."""
    e = ledger_entries.c
    if last is not None and last.tx == after.tx:
        return [sa.and_(tx == after.tx, e.id > after.entry_id, e.id <= last.entry_id)]
    rest = sa.and_(tx == after.tx, e.id > after.entry_id)
    if last is None:
        return [rest, tx > after.tx]
    return [rest, sa.and_(tx > after.tx, tx < last.tx), sa.and_(tx == last.tx, e.id <= last.entry_id)]


class _Session:
    def __init__(self, conn: Connection) -> None:
        self._conn, self._tx = conn, _tx(conn)
        self._postgres = conn.dialect.name == "postgresql"
        self._audit = SqlAuditLog(conn)
        self._stored = False

    @property
    def audit(self) -> AuditLog:
        return self._audit

    def claim(self) -> SealHead | None:
        if self._postgres and not self._conn.execute(_CLAIM, {"key": _LOCK_KEY}).scalar_one():
            return None
        return self.head()

    def head(self) -> SealHead:
        row = self._conn.execute(_HEAD).first()
        self._stored = row is not None
        if row is None:
            return SealHead()
        return SealHead(SealPosition(int(row.last_tx), row.last_id), int(row.batches), int(row.sealed))

    def move_head(self, head: SealHead) -> None:
        assert head.last is not None
        values = {
            "last_tx": head.last.tx,
            "last_id": head.last.entry_id,
            "batches": head.batches,
            "sealed": head.sealed,
        }
        if self._stored:
            self._conn.execute(ledger_seal_head.update().where(ledger_seal_head.c.stream == STREAM).values(**values))
        else:
            self._conn.execute(ledger_seal_head.insert().values(stream=STREAM, **values))
            self._stored = True

    def sealable(self, after: SealPosition | None, limit: int) -> list[SealedEntry]:
        slices = _slices(self._tx, after or _START)
        if self._postgres:
            slices = [sa.and_(where, self._tx < _FENCE) for where in slices]
        return self._entries(slices, limit)

    def between(self, after: SealPosition | None, last: SealPosition) -> list[SealedEntry]:
        return self._entries(_slices(self._tx, after or _START, last))

    def count_after(self, after: SealPosition | None) -> int:
        count = sa.select(sa.func.count()).select_from(ledger_entries)
        return sum(
            int(self._conn.execute(count.where(where)).scalar_one()) for where in _slices(self._tx, after or _START)
        )

    def _entries(self, slices: Sequence[sa.ColumnElement[bool]], limit: int | None = None) -> list[SealedEntry]:
        heads: list[Any] = []
        for where in slices:
            left = None if limit is None else limit - len(heads)
            if left == 0:
                break
            query = sa.select(self._tx.label("seal_tx"), ledger_entries).where(where)
            query = query.order_by(self._tx, ledger_entries.c.id)
            heads += [r._mapping for r in self._conn.execute(query.limit(left) if left is not None else query)]
        lines = self._lines([h["id"] for h in heads])
        transfers = self._transfers([t for h in heads if (t := sealed_transfer_id(_meta(h)))])
        return [_sealed(h, lines.get(h["id"], []), transfers) for h in heads]

    def _transfers(self, ids: Sequence[str]) -> dict[str, SealedTransfer]:
        found: dict[str, SealedTransfer] = {}
        c = wallet_transfers.c
        for start in range(0, len(ids), 500):
            query = sa.select(c.id, c.sender_id, c.recipient_id, c.doc).where(c.id.in_(ids[start : start + 500]))
            for r in self._conn.execute(query):
                if (transfer := _transfer(r)) is not None:
                    found[r.id] = transfer
        return found

    def _lines(self, ids: Sequence[str]) -> dict[str, list[SealedLine]]:
        found: dict[str, list[tuple[int, SealedLine]]] = {}
        c = ledger_lines.c
        for start in range(0, len(ids), 500):
            query = sa.select(ledger_lines).where(c.entry_id.in_(ids[start : start + 500]))
            for r in self._conn.execute(query):
                line = SealedLine(r.account_code, r.asset, r.amount, r.balance_before, r.balance_after)
                found.setdefault(r.entry_id, []).append((r.line_no, line))
        return {entry: [line for _, line in sorted(pairs, key=lambda p: p[0])] for entry, pairs in found.items()}


def _meta(row: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in row["meta"])


def _both(column: str | None, document: object) -> str | None:
    """One party as the row's column and its document name it (``a|b`` when they differ)."""
    return column if column == document else f"{column}|{document}"


def _transfer(row: Any) -> SealedTransfer | None:
    """The row's fixed fields; None (sealed and checked as no transfer) for a document that does not hold them."""
    try:
        return _fixed(row)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def _fixed(row: Any) -> SealedTransfer:
    doc = row.doc
    amount, fee = doc["amount"], doc["fee"]
    return SealedTransfer(
        row.id,
        _both(row.sender_id, doc["sender_id"]) or "",
        _both(row.recipient_id, doc.get("recipient_id")),
        Decimal(amount["amount"]),
        Decimal(fee["amount"]),
        amount["asset"] if amount["asset"] == fee["asset"] else f"{amount['asset']}|{fee['asset']}",
        datetime.fromisoformat(doc["created_at"]),
    )


def _sealed(row: Any, lines: list[SealedLine], transfers: Mapping[str, SealedTransfer]) -> SealedEntry:
    meta = _meta(row)
    transfer_id = sealed_transfer_id(meta)
    return SealedEntry(
        SealPosition(int(row["seal_tx"]), row["id"]),
        row["id"],
        row["idempotency_key"],
        row["description"],
        row["created_at"],
        row["quote_id"],
        row["reverses"],
        row["hold_id"],
        meta,
        tuple(lines),
        transfers.get(transfer_id) if transfer_id else None,
    )


class SqlLedgerSeals:
    """``LedgerSeals`` over one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def session(self) -> Iterator[_Session]:
        with translating(), self._engine.connect() as conn, conn.begin():
            yield _Session(conn)

    @contextmanager
    def reading(self) -> Iterator[_Session]:
        with translating(), self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            else:
                conn.execution_options(sqlite_readonly=True)
            with conn.begin():
                yield _Session(conn)


def verify_ledger_seals(engine: Engine) -> SealReport:
    """Every sealed batch of ledger entries re-computed from the stored rows (``LedgerSealing.verify``)."""
    return LedgerSealing(SqlLedgerSeals(engine), SystemClock()).verify()
