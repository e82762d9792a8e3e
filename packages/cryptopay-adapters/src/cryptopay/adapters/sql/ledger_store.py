"""The ledger store on SQL: balance rows locked in a fixed order, writes batched at the end of the transaction.

A ``SqlLedgerSession`` is one transaction on one connection. ``lock_balances`` runs ``SELECT ... FOR UPDATE``
in account-code order (SQLite serialises writers with ``BEGIN IMMEDIATE`` instead) and keeps the locked rows,
so later calls in the same transaction cost nothing. Entries, lines, balance updates, holds and idempotency
records are buffered and written by ``flush`` in a few statements just before commit (on PostgreSQL, one
statement). Reads that could depend on buffered writes are answered from the buffer first.

When the ledger owns the transaction on PostgreSQL (``SqlLedgerStore.session()``), the session begins and ends
it itself with prepared statements (see ``ledger_flush.PreparedLedger``): ``BEGIN; EXECUTE prefetch`` and
``EXECUTE flush; COMMIT``, two round trips. Inside a unit of work the session uses the unit's transaction instead.
``SqlBatchLedgerStore`` (opt-in, for SDK and batch callers posting outside a unit of work) lets brand-new entries
skip the session altogether on PostgreSQL: its ``post_drafts`` (the ``DraftPoster`` port) posts them with one
statement, ``ledger_post_new_entries`` (migration 0006), in one round trip. The production stores never take that
path: every production posting joins a unit of work's transaction (see docs/architecture.md, "The ledger's batch
path").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime
from typing import Any, Protocol, TypeVar

import psycopg
import sqlalchemy as sa
from cryptopay.adapters.sql import ledger_rows as rows
from cryptopay.adapters.sql.errors import pipelined, translating
from cryptopay.adapters.sql.ledger_flush import (
    DECLINED,
    FLUSH_STATEMENT,
    POST_STATEMENT,
    PREFETCH,
    PREFETCH_STATEMENT,
    PreparedLedger,
    compiled,
    draft_params,
    flush_params,
    flush_postgres,
    write_arrays,
)
from cryptopay.adapters.sql.repositories._base import reading
from cryptopay.adapters.sql.tables import (
    ledger_accounts,
    ledger_entries,
    ledger_holds,
    ledger_idempotency,
    ledger_lines,
)
from cryptopay.core.errors import CryptopayError
from cryptopay.core.ledger.model import Account, AccountBalance, Entry, EntryDraft, Hold
from cryptopay.core.money import Asset, asset_by_code
from cryptopay.core.ports.ledger import IdempotencyRecord
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlBatchLedgerStore", "SqlLedgerSession", "SqlLedgerStore", "flushing_transaction"]

_LOCK = (
    sa.select(ledger_accounts)
    .where(ledger_accounts.c.code.in_(sa.bindparam("codes", expanding=True)))
    .order_by(ledger_accounts.c.code)
    .with_for_update()
)
_FIND_KEYS = sa.select(ledger_idempotency).where(ledger_idempotency.c.key.in_(sa.bindparam("keys", expanding=True)))
_UPDATE_BALANCE = (
    ledger_accounts.update()
    .where(ledger_accounts.c.code == sa.bindparam("b_code"))
    .values(
        debits_posted=sa.bindparam("b_dp"),
        credits_posted=sa.bindparam("b_cp"),
        debits_pending=sa.bindparam("b_dpe"),
        credits_pending=sa.bindparam("b_cpe"),
        available=sa.bindparam("b_av"),
    )
)
_UPDATE_HOLD = (
    ledger_holds.update()
    .where(ledger_holds.c.id == sa.bindparam("h_id"))
    .values(
        state=sa.bindparam("h_state"),
        posted_amount=sa.bindparam("h_posted"),
        entry_id=sa.bindparam("h_entry"),
    )
)


def _load_entries(conn: Connection, where: sa.ColumnElement[bool], limit: int | None = None) -> list[Entry]:
    query = (
        sa.select(ledger_entries).where(where).order_by(ledger_entries.c.created_at.desc(), ledger_entries.c.id.desc())
    )
    heads = [r._mapping for r in conn.execute(query.limit(limit) if limit else query)]
    if not heads:
        return []
    ids = [h["id"] for h in heads]
    lines: dict[str, list[Any]] = {i: [] for i in ids}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for line in conn.execute(sa.select(ledger_lines).where(ledger_lines.c.entry_id.in_(chunk))):
            lines[line.entry_id].append(line._mapping)
    return [rows.entry_from_rows(h, lines[h["id"]]) for h in heads]


class SqlLedgerSession:
    """One transaction of the ledger (implements ``cryptopay.core.ports.ledger.LedgerSession``).

    ``prepared`` (PostgreSQL only) makes the session run its own transaction on a driver in autocommit mode:
    ``BEGIN`` goes out with the first statement and ``COMMIT`` (see ``commit``) with the last write.
    """

    def __init__(self, conn: Connection, prepared: PreparedLedger | None = None) -> None:
        self._raw_conn = conn
        self._prepared = prepared
        self._pending_begin = prepared is not None
        self._postgres = conn.dialect.name == "postgresql"
        self._locked: dict[str, AccountBalance] = {}
        self._dirty: dict[str, AccountBalance] = {}
        self._keys: dict[str, IdempotencyRecord | None] = {}
        self._new_keys: list[IdempotencyRecord] = []
        self._entries: dict[str, Entry] = {}
        self._new_entries: list[Entry] = []
        self._reversals: dict[str, str] = {}
        self._holds: dict[str, Hold] = {}
        self._new_holds: dict[str, Hold] = {}
        self._changed_holds: dict[str, Hold] = {}

    @property
    def _conn(self) -> Connection:
        """The connection, inside the transaction (an explicit session sends its ``BEGIN`` first if not yet sent)."""
        if self._pending_begin:
            self._raw_conn.exec_driver_sql("BEGIN")
            self._pending_begin = False
        return self._raw_conn

    @property
    def connection(self) -> Connection:
        return self._conn

    # -- accounts and balances ------------------------------------------------------------------------------
    def get_account(self, code: str) -> Account | None:
        if code in self._locked:
            return self._locked[code].account
        row = self._conn.execute(sa.select(ledger_accounts).where(ledger_accounts.c.code == code)).first()
        return rows.account_from_row(row._mapping) if row else None

    def get_accounts(self, codes: Sequence[str]) -> dict[str, Account]:
        found = {c: self._locked[c].account for c in codes if c in self._locked}
        missing = sorted({c for c in codes if c not in found})
        if missing:
            query = sa.select(ledger_accounts).where(ledger_accounts.c.code.in_(missing))
            for row in self._conn.execute(query):
                account = rows.account_from_row(row._mapping)
                found[account.code] = account
        return found

    def add_account(self, account: Account) -> None:
        self._conn.execute(ledger_accounts.insert(), rows.account_row(account))

    def lock_balances(self, codes: Sequence[str]) -> dict[str, AccountBalance]:
        missing = sorted({c for c in codes if c not in self._locked})
        if missing:
            for row in self._conn.execute(_LOCK, {"codes": missing}):
                balance = rows.balance_from_row(row._mapping)
                self._locked[balance.account.code] = balance
        return {c: self._locked[c] for c in codes if c in self._locked}

    def save_balances(self, balances: Iterable[AccountBalance]) -> None:
        for balance in balances:
            code = balance.account.code
            if code not in self._locked:
                raise RuntimeError(f"balance of {code} saved without being locked first")
            self._locked[code] = self._dirty[code] = balance

    # -- idempotency ----------------------------------------------------------------------------------------
    def find_idempotencies(self, keys: Sequence[str]) -> dict[str, IdempotencyRecord]:
        unknown = sorted({k for k in keys if k not in self._keys})
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            found = {
                r.key: rows.idempotency_from_row(r._mapping) for r in self._conn.execute(_FIND_KEYS, {"keys": chunk})
            }
            for key in chunk:
                self._keys[key] = found.get(key)
        return {k: record for k in keys if (record := self._keys.get(k)) is not None}

    def prefetch(self, keys: Sequence[str], codes: Sequence[str]) -> None:
        new_keys = sorted({k for k in keys if k not in self._keys})
        new_codes = sorted({c for c in codes if c not in self._locked})
        if not self._postgres or not new_keys:
            self.find_idempotencies(new_keys)
            self.lock_balances(new_codes)
            return
        self.take_prefetched(self._prefetch_rows({"keys": new_keys, "codes": new_codes}), new_keys)

    def take_prefetched(self, found: Iterable[rows.Row], keys: Sequence[str]) -> None:
        """Keep what a statement of this transaction read in the prefetch statement's shape (``kind`` ``a``: an
        account's balance row it locked; ``k``: an idempotency record), ``keys`` being every key it looked up (the
        ones without a row are known to be free). ``SqlSends`` reads a P2P send's wallets and these in one go."""
        records: dict[str, IdempotencyRecord] = {}
        for m in found:
            if m["kind"] == "k":
                records[m["code"]] = IdempotencyRecord(m["code"], m["request_hash"], m["result_kind"], m["result_id"])
            elif m["kind"] == "a":
                balance = rows.balance_from_row({**m, "kind": m["account_kind"]})
                self._locked.setdefault(balance.account.code, balance)  # never over a balance changed here
        for key in keys:
            if key not in self._keys:
                self._keys[key] = records.get(key)

    def _prefetch_rows(self, params: dict[str, Any]) -> Sequence[rows.Row]:
        if self._prepared is not None:
            begin, self._pending_begin = self._pending_begin, False
            return self._prepared.execute(PREFETCH_STATEMENT, params, begin=begin)
        driver = self._conn.connection.driver_connection
        if not isinstance(driver, psycopg.Connection) or driver.info.transaction_status != TransactionStatus.IDLE:
            return [row._mapping for row in self._conn.execute(PREFETCH, params)]
        # First statement of the transaction: pipelined, psycopg sends its BEGIN with it (one round trip, not two).
        with pipelined(self._conn), driver.cursor(row_factory=dict_row) as cursor:
            cursor.execute(compiled(PREFETCH, self._conn.dialect), params)
            return cursor.fetchall()

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self.find_idempotencies([key]).get(key)

    def add_idempotency(self, record: IdempotencyRecord) -> None:
        if self._keys.get(record.key) is not None:
            raise RuntimeError(f"idempotency key {record.key!r} recorded twice in one transaction")
        self._keys[record.key] = record
        self._new_keys.append(record)

    # -- entries --------------------------------------------------------------------------------------------
    def add_entry(self, entry: Entry) -> None:
        self._entries[entry.id] = entry
        self._new_entries.append(entry)
        if entry.reverses:
            self._reversals[entry.reverses] = entry.id

    def get_entry(self, entry_id: str) -> Entry | None:
        if entry_id not in self._entries:
            found = _load_entries(self._conn, ledger_entries.c.id == entry_id)
            if not found:
                return None
            self._entries[entry_id] = found[0]
        return self._entries[entry_id]

    def find_reversal(self, entry_id: str) -> Entry | None:
        if entry_id in self._reversals:
            return self._entries[self._reversals[entry_id]]
        found = _load_entries(self._conn, ledger_entries.c.reverses == entry_id)
        return found[0] if found else None

    # -- holds ----------------------------------------------------------------------------------------------
    def get_hold(self, hold_id: str) -> Hold | None:
        if hold_id not in self._holds:
            query = sa.select(ledger_holds).where(ledger_holds.c.id == hold_id).with_for_update()
            row = self._conn.execute(query).first()
            if row is None:
                return None
            self._holds[hold_id] = rows.hold_from_row(row._mapping)
        return self._holds[hold_id]

    def add_hold(self, hold: Hold) -> None:
        self._holds[hold.id] = self._new_holds[hold.id] = hold

    def update_hold(self, hold: Hold) -> None:
        self._holds[hold.id] = hold
        if hold.id in self._new_holds:
            self._new_holds[hold.id] = hold
        else:
            self._changed_holds[hold.id] = hold

    # -- writing --------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered so far (called before commit; safe to call more than once)."""
        self._flush(commit=False)

    def take_writes(self) -> dict[str, str] | None:
        """The buffered entries, balances and idempotency records as the parameters of the flush statement
        (``ledger_flush.FLUSH_STATEMENT``), taken out of the buffers for a caller that sends that statement itself;
        ``None`` when nothing is buffered, or holds are (``flush`` then writes it all)."""
        if self._new_holds or self._changed_holds or not (self._new_entries or self._dirty or self._new_keys):
            return None
        entries, self._new_entries = self._new_entries, []
        balances, self._dirty = list(self._dirty.values()), {}
        keys, self._new_keys = self._new_keys, []
        return flush_params(entries, balances, keys)

    def take_write_arrays(self) -> dict[str, str] | None:
        """The buffered entries, balances and idempotency records as ``ledger_flush.WRITE_CTES``' parameters, taken
        out of the buffers for a statement that writes them with rows of its own (the P2P send's write; empty lists
        when nothing is buffered); ``None`` when holds are buffered (``flush`` then writes it all)."""
        if self._new_holds or self._changed_holds:
            return None
        entries, self._new_entries = self._new_entries, []
        balances, self._dirty = list(self._dirty.values()), {}
        keys, self._new_keys = self._new_keys, []
        return write_arrays(entries, balances, keys)

    def commit(self) -> None:
        """Flush and commit an explicit session: with nothing but entries, balances and keys buffered, one round
        trip (``EXECUTE flush; COMMIT``); nothing at all when the transaction never began."""
        if self._prepared is None:
            raise RuntimeError("only a session that owns its transaction commits it")
        if self._pending_begin and not (self._new_entries or self._dirty or self._new_keys or self._new_holds):
            return
        if not self._flush(commit=True):
            self._conn.exec_driver_sql("COMMIT")

    def _flush(self, *, commit: bool) -> bool:
        """Write the buffers; True when the COMMIT went out with the write."""
        entries, self._new_entries = self._new_entries, []
        balances, self._dirty = list(self._dirty.values()), {}
        keys, self._new_keys = self._new_keys, []
        committed = False
        if self._prepared is not None and (entries or balances or keys):
            alone = commit and not (self._new_holds or self._changed_holds)
            begin, self._pending_begin = self._pending_begin, False
            self._prepared.execute(FLUSH_STATEMENT, flush_params(entries, balances, keys), begin=begin, commit=alone)
            committed = alone
        elif self._postgres:
            flush_postgres(self._conn, entries, balances, keys)
        else:
            self._flush_generic(entries, balances, keys)
        new_holds, self._new_holds = list(self._new_holds.values()), {}
        changed, self._changed_holds = list(self._changed_holds.values()), {}
        if new_holds:
            self._conn.execute(ledger_holds.insert(), [rows.hold_row(h) for h in new_holds])
        if changed:
            self._conn.execute(_UPDATE_HOLD, [_hold_change(h) for h in changed])
        return committed

    def _flush_generic(
        self, entries: list[Entry], balances: list[AccountBalance], keys: list[IdempotencyRecord]
    ) -> None:
        if entries:
            self._conn.execute(ledger_entries.insert(), [rows.entry_row(e) for e in entries])
            self._conn.execute(ledger_lines.insert(), [line for e in entries for line in rows.line_rows(e)])
        if balances:
            self._conn.execute(_UPDATE_BALANCE, [rows.balance_values(b) for b in balances])
        if keys:
            self._conn.execute(ledger_idempotency.insert(), [rows.idempotency_row(k) for k in keys])


def _hold_change(hold: Hold) -> dict[str, Any]:
    return {
        "h_id": hold.id,
        "h_state": hold.state.value,
        "h_posted": hold.posted_amount.amount if hold.posted_amount else None,
        "h_entry": hold.entry_id,
    }


class _Flushes(Protocol):
    def flush(self) -> None: ...


S = TypeVar("S", bound=_Flushes)


@contextmanager
def flushing_transaction(engine: Engine, open_session: Callable[[Connection], S]) -> Iterator[S]:
    """A new transaction's session; on normal exit it is flushed and committed in one pipeline, else rolled back."""
    with translating(), engine.connect() as conn:
        transaction = conn.begin()
        try:
            session = open_session(conn)
            yield session
            with pipelined(conn):
                session.flush()
                transaction.commit()
        finally:
            if transaction.is_active:
                transaction.rollback()


@contextmanager
def _autocommit(engine: Engine) -> Iterator[tuple[Connection, PreparedLedger]]:
    """A pooled PostgreSQL connection with its driver in autocommit mode, and its ``PreparedLedger``.
    It goes back to the pool with autocommit off (an open transaction rolled back), or is discarded if that
    cannot be restored."""
    with translating(), engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        prepared = PreparedLedger(driver, conn.connection.info)
        driver.autocommit = True
        try:
            yield conn, prepared
        except BaseException:
            with suppress(psycopg.Error):
                driver.rollback()  # sends ROLLBACK only if a transaction is open
            raise
        finally:
            try:
                driver.autocommit = False
            except psycopg.Error:
                conn.invalidate()


@contextmanager
def _owned_transaction(engine: Engine) -> Iterator[SqlLedgerSession]:
    """A ledger-owned PostgreSQL transaction: ``BEGIN``/``COMMIT`` sent by the session with its first and last
    statements."""
    with _autocommit(engine) as (conn, prepared):
        prepared.ensure(PREFETCH_STATEMENT, FLUSH_STATEMENT)
        session = SqlLedgerSession(conn, prepared)
        yield session
        session.commit()


def _registered(asset: Asset) -> bool:
    try:
        return asset_by_code(asset.code) == asset
    except CryptopayError:
        return False


class SqlLedgerStore:
    """``LedgerStore`` over a SQLAlchemy engine (PostgreSQL or SQLite with the migrations applied)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._prepares = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"

    @property
    def engine(self) -> Engine:
        return self._engine

    def session(self) -> AbstractContextManager[SqlLedgerSession]:
        if self._prepares:
            return _owned_transaction(self._engine)
        return flushing_transaction(self._engine, SqlLedgerSession)

    def accounts(self) -> list[Account]:
        with reading(self._engine) as conn:
            found = conn.execute(sa.select(ledger_accounts).order_by(ledger_accounts.c.code))
            return [rows.account_from_row(r._mapping) for r in found]

    def balances(self, codes: Sequence[str] | None = None) -> list[AccountBalance]:
        query = sa.select(ledger_accounts).order_by(ledger_accounts.c.code)
        with reading(self._engine) as conn:
            if codes is None:
                return [rows.balance_from_row(r._mapping) for r in conn.execute(query)]
            found = {}
            for start in range(0, len(codes), 500):
                chunk = list(codes[start : start + 500])
                for r in conn.execute(query.where(ledger_accounts.c.code.in_(chunk))):
                    found[r.code] = rows.balance_from_row(r._mapping)
            return [found[c] for c in codes if c in found]

    def entries(
        self,
        *,
        account: str | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[Entry]:
        c = ledger_entries.c
        where: sa.ColumnElement[bool] = sa.true()
        if account is not None:
            where = c.id.in_(sa.select(ledger_lines.c.entry_id).where(ledger_lines.c.account_code == account))
        if since is not None:
            where = sa.and_(where, c.created_at >= since)
        if until is not None:
            where = sa.and_(where, c.created_at < until)
        if before is not None:
            at, entry_id = before
            where = sa.and_(where, sa.or_(c.created_at < at, sa.and_(c.created_at == at, c.id < entry_id)))
        with reading(self._engine) as conn:
            return _load_entries(conn, where, limit)

    def holds(self, *, pending_only: bool = False, expiring_before: datetime | None = None) -> list[Hold]:
        query = sa.select(ledger_holds).order_by(ledger_holds.c.id)
        if pending_only:
            query = query.where(ledger_holds.c.state == "pending")
        if expiring_before is not None:
            query = query.where(ledger_holds.c.expires_at.is_not(None), ledger_holds.c.expires_at <= expiring_before)
        with reading(self._engine) as conn:
            return [rows.hold_from_row(r._mapping) for r in conn.execute(query)]


class SqlBatchLedgerStore(SqlLedgerStore):
    """Opt-in ``SqlLedgerStore`` that also posts brand-new entries in one statement (``DraftPoster``): for SDK and
    batch callers whose postings are the whole transaction (``Ledger.post``/``post_many`` without a session).

    Production flows post inside a unit of work, together with their own rows, and never use it."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._without_post_function = False  # set when the database lacks migration 0006 (code deployed first)

    @property
    def posts_drafts(self) -> bool:
        """True on PostgreSQL (with psycopg); SQLite declines every draft."""
        return self._prepares

    def post_drafts(self, drafts: Sequence[EntryDraft]) -> list[Entry] | None:
        """New entries in one statement, its own transaction (``DraftPoster``; PostgreSQL with psycopg only, else
        ``None``): ``ledger_post_new_entries`` (migration 0006) applies the ledger's rules and declines, having
        written nothing, whatever needs the general path. Also ``None`` for an amount in an asset other than the
        registered one of its code (accounts are read back in the registered asset), and, for the life of this
        store, once the database turned out not to have the function yet."""
        if not self._prepares or self._without_post_function or not drafts:
            return None
        if any(not _registered(p.amount.asset) for d in drafts for p in d.postings):
            return None
        with _autocommit(self._engine) as (_, prepared):
            try:
                prepared.ensure(POST_STATEMENT)
                history = prepared.execute(POST_STATEMENT, draft_params(drafts))
            except psycopg.errors.UndefinedFunction:
                self._without_post_function = True
                return None
            except psycopg.Error as error:
                if error.sqlstate == DECLINED:
                    return None
                raise
        return rows.drafted_entries(drafts, history)
