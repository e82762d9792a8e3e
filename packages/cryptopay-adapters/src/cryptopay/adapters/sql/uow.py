"""The SQL unit of work: one connection, one transaction, every repository on it.

``SqlStorage(engine).unit_of_work()`` (or calling the storage) opens a transaction; the ledger session, audit log,
outbox and repositories all write through it, and it commits when the block exits normally. Each repository is a
typed attribute, made on first use in the transaction. Database errors come out as SDK errors
(``TransientConflict`` for races: use ``cryptopay.core.ports.storage.in_transaction``).

On PostgreSQL a hot path may let the unit's transaction be owned by the driver (``begin_prepared``: the P2P send):
its first statement goes with the ``BEGIN`` and its last writes with the ``COMMIT``, each round trip one simple query
of prepared statements (``cryptopay.adapters.sql.prepared``), instead of psycopg's pipeline.

``SqlStorage.reading()`` is the same repositories for reads that need no transaction (an invoice, a store, a page
of a listing: one statement each): the connection runs in autocommit, so no ``BEGIN``/``COMMIT`` round trips, and
nothing is locked (``get`` of an invoice or payout does not take its row lock). Give it only to read paths. With
``pinned_readers`` (the composition root passes the app's threads) each thread on PostgreSQL keeps one autocommit
connection for its reads instead of taking one from the pool per read (see ``SqlStorage``).
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from cryptopay.adapters.sql import prepared
from cryptopay.adapters.sql.audit import SqlAuditLog
from cryptopay.adapters.sql.errors import pipelined, translating
from cryptopay.adapters.sql.ledger_flush import FLUSH_STATEMENT
from cryptopay.adapters.sql.ledger_store import SqlLedgerSession, SqlLedgerStore
from cryptopay.adapters.sql.outbox import SqlOutbox
from cryptopay.adapters.sql.personal import PersonalData
from cryptopay.adapters.sql.repositories.compliance import (
    SqlAlerts,
    SqlCases,
    SqlKycApplications,
    SqlMovementJournal,
    SqlSanctions,
)
from cryptopay.adapters.sql.repositories.deposits import SqlWalletDeposits
from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
from cryptopay.adapters.sql.repositories.identity import (
    SqlApiKeys,
    SqlIdempotency,
    SqlMerchants,
    SqlRefreshTokens,
    SqlTeams,
    SqlUsers,
)
from cryptopay.adapters.sql.repositories.kyc_fees import SqlFeeSchedules, SqlKycProfiles
from cryptopay.adapters.sql.repositories.paybill import SqlPaybillPayments, SqlUrlRegistrations
from cryptopay.adapters.sql.repositories.payments import (
    SqlDepositAddresses,
    SqlInvoices,
    SqlPaymentCredits,
    SqlPaymentLinks,
    SqlPayouts,
    SqlRefunds,
    SqlSettlements,
    SqlStores,
    SqlUnmatchedAnswers,
)
from cryptopay.adapters.sql.repositories.remittances import SqlRemittances
from cryptopay.adapters.sql.repositories.travel_rule import SqlTravelRule
from cryptopay.adapters.sql.repositories.wallets import (
    SqlBuys,
    SqlPhoneVerifications,
    SqlSends,
    SqlTransfers,
    SqlUsage,
    SqlWalletQuotes,
    SqlWallets,
)
from cryptopay.adapters.sql.repositories.webhooks import SecretCipher, SqlWebhookDeliveries, SqlWebhookEndpoints
from cryptopay.adapters.sql.repositories.withdrawals import SqlWithdrawals
from cryptopay.adapters.sql.repositories.wrong_network import SqlWrongNetworkPayments
from cryptopay.core import fencing
from cryptopay.core.ports.system import IdGenerator
from psycopg.pq import PipelineStatus, TransactionStatus
from sqlalchemy.engine import Connection, Engine, RootTransaction

__all__ = ["SqlStorage", "SqlUnitOfWork"]

IDLE = TransactionStatus.IDLE


class SqlUnitOfWork:
    """The repositories of one SQL transaction (``PaymentsUnitOfWork``, ``WebhookUnitOfWork`` and the rest)."""

    def __init__(
        self,
        conn: Connection,
        ids: IdGenerator | None = None,
        *,
        cipher: SecretCipher | None = None,
        allow_plaintext: bool = False,
        locking: bool = True,
        personal: PersonalData | None = None,
    ) -> None:
        self.connection = conn
        self.personal = personal or PersonalData.plaintext()
        self._locking = locking
        self.ledger = SqlLedgerSession(conn)
        self._deferred: list[tuple[str | prepared.Statement, Mapping[str, Any]]] = []
        self._owned: psycopg.Connection[Any] | None = None  # the driver, when it owns the transaction
        self._fenced = False
        self._ids = ids
        self._cipher, self._allow_plaintext = cipher, allow_plaintext

    @functools.cached_property
    def audit(self) -> SqlAuditLog:
        # In a transaction on PostgreSQL an append's writes go out with the commit (``SqlAuditLog``).
        deferring = self._locking and self.connection.dialect.name == "postgresql"
        return SqlAuditLog(
            self.connection,
            self._ids,
            defer=self.defer if deferring else None,
            flush=self.flush,
            before_lock=self.hold_fence if self._locking else lambda: None,
        )

    @functools.cached_property
    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self.connection)

    def end(self) -> None:
        """Once the unit's transaction ended: let go of the repositories holding the unit's own methods (the audit
        log's deferred writes and fence, the send's), so the unit and everything it read are freed at once by
        reference counting instead of waiting, a reference cycle, for the cyclic garbage collector (whose runs
        those leftovers caused: about 37 objects per P2P send). A repository asked for again is made afresh."""
        for name in _HOLDING_THE_UNIT:
            self.__dict__.pop(name, None)

    # -- payments
    @functools.cached_property
    def stores(self) -> SqlStores:
        return SqlStores(self.connection)

    @functools.cached_property
    def invoices(self) -> SqlInvoices:
        return SqlInvoices(self.connection, locking=self._locking)

    @functools.cached_property
    def deposit_addresses(self) -> SqlDepositAddresses:
        return SqlDepositAddresses(self.connection, alone=not self._locking)

    @functools.cached_property
    def payment_credits(self) -> SqlPaymentCredits:
        return SqlPaymentCredits(self.connection)

    @functools.cached_property
    def settlements(self) -> SqlSettlements:
        return SqlSettlements(self.connection, personal=self.personal)

    @functools.cached_property
    def payouts(self) -> SqlPayouts:
        return SqlPayouts(self.connection, locking=self._locking, personal=self.personal)

    @functools.cached_property
    def refunds(self) -> SqlRefunds:
        return SqlRefunds(self.connection)

    @functools.cached_property
    def unmatched_answers(self) -> SqlUnmatchedAnswers:
        return SqlUnmatchedAnswers(self.connection, personal=self.personal)

    @functools.cached_property
    def payment_links(self) -> SqlPaymentLinks:
        return SqlPaymentLinks(self.connection, personal=self.personal)

    @functools.cached_property
    def wrong_network_payments(self) -> SqlWrongNetworkPayments:
        return SqlWrongNetworkPayments(self.connection, locking=self._locking)

    @functools.cached_property
    def quotes(self) -> SqlQuoteRepository:
        return SqlQuoteRepository(self.connection)

    # -- webhooks
    @functools.cached_property
    def webhook_endpoints(self) -> SqlWebhookEndpoints:
        """Endpoint secrets are sealed by the storage's cipher (refused without one, unless plaintext is allowed)."""
        return SqlWebhookEndpoints(self.connection, cipher=self._cipher, allow_plaintext=self._allow_plaintext)

    @functools.cached_property
    def webhook_deliveries(self) -> SqlWebhookDeliveries:
        return SqlWebhookDeliveries(self.connection)

    # -- identity, KYC and fees
    @functools.cached_property
    def users(self) -> SqlUsers:
        return SqlUsers(self.connection, cipher=self._cipher, personal=self.personal)

    @functools.cached_property
    def refresh_tokens(self) -> SqlRefreshTokens:
        return SqlRefreshTokens(self.connection)

    @functools.cached_property
    def merchants(self) -> SqlMerchants:
        return SqlMerchants(self.connection, personal=self.personal)

    @functools.cached_property
    def teams(self) -> SqlTeams:
        return SqlTeams(self.connection, personal=self.personal)

    @functools.cached_property
    def api_keys(self) -> SqlApiKeys:
        return SqlApiKeys(self.connection)

    @functools.cached_property
    def idempotency(self) -> SqlIdempotency:
        return SqlIdempotency(self.connection)

    @functools.cached_property
    def kyc(self) -> SqlKycProfiles:
        return SqlKycProfiles(self.connection, personal=self.personal)

    @functools.cached_property
    def kyc_applications(self) -> SqlKycApplications:
        return SqlKycApplications(self.connection, personal=self.personal)

    # -- compliance monitoring
    @functools.cached_property
    def movements(self) -> SqlMovementJournal:
        return SqlMovementJournal(self.connection, personal=self.personal)

    @functools.cached_property
    def alerts(self) -> SqlAlerts:
        return SqlAlerts(self.connection, personal=self.personal)

    @functools.cached_property
    def cases(self) -> SqlCases:
        return SqlCases(self.connection, personal=self.personal)

    @functools.cached_property
    def sanctions(self) -> SqlSanctions:
        return SqlSanctions(self.connection)

    @functools.cached_property
    def travel_rule(self) -> SqlTravelRule:
        return SqlTravelRule(self.connection, personal=self.personal)

    @functools.cached_property
    def withdrawals(self) -> SqlWithdrawals:
        return SqlWithdrawals(self.connection, locking=self._locking)

    @functools.cached_property
    def fee_schedules(self) -> SqlFeeSchedules:
        return SqlFeeSchedules(self.connection)

    # -- remittances from abroad
    @functools.cached_property
    def remittances(self) -> SqlRemittances:
        return SqlRemittances(self.connection, personal=self.personal, locking=self._locking)

    # -- personal wallets
    @functools.cached_property
    def wallets(self) -> SqlWallets:
        return SqlWallets(self.connection, personal=self.personal)

    @functools.cached_property
    def phone_verifications(self) -> SqlPhoneVerifications:
        return SqlPhoneVerifications(self.connection, personal=self.personal)

    @functools.cached_property
    def wallet_transfers(self) -> SqlTransfers:
        return SqlTransfers(self.connection, personal=self.personal)

    @functools.cached_property
    def wallet_usage(self) -> SqlUsage:
        return SqlUsage(self.connection)

    @functools.cached_property
    def wallet_deposits(self) -> SqlWalletDeposits:
        return SqlWalletDeposits(self.connection)

    @functools.cached_property
    def wallet_buys(self) -> SqlBuys:
        return SqlBuys(self.connection, personal=self.personal)

    @functools.cached_property
    def paybill_payments(self) -> SqlPaybillPayments:
        return SqlPaybillPayments(self.connection, personal=self.personal)

    @functools.cached_property
    def paybill_urls(self) -> SqlUrlRegistrations:
        return SqlUrlRegistrations(self.connection)

    @functools.cached_property
    def wallet_quotes(self) -> SqlWalletQuotes:
        return SqlWalletQuotes(self.connection)

    @functools.cached_property
    def wallet_sends(self) -> SqlSends:
        return SqlSends(self.connection, self.ledger, self.defer, self.begin_prepared, personal=self.personal)

    def hold_fence(self) -> None:
        """Renew the commit fence (if any) in this transaction, once: its row lock then lasts until the commit, so a
        takeover waits for it wherever in the transaction it was taken. The audit log takes it before it locks the
        chain's head, so that round trip is not spent while every other auditing transaction waits."""
        if not self._fenced:
            fencing.check(self.idempotency)  # in this transaction: a lost claim rolls the work back
            self._fenced = True

    def defer(self, statement: str | prepared.Statement, params: Mapping[str, Any]) -> None:
        """Queue a statement (psycopg's ``%(name)s`` parameters, PostgreSQL only) to be sent by ``flush``: at commit
        that is in the commit's round trip, so it costs none of its own; a failure fails the commit. A ``Statement``
        is sent prepared when the driver owns the transaction."""
        self._deferred.append((statement, params))

    def begin_prepared(
        self, *calls: prepared.Call, setup: str = "", later: Sequence[prepared.Statement] = ()
    ) -> list[dict[str, Any]] | None:
        """Begin the transaction with ``[setup;] EXECUTE call; ...`` in one round trip (the rows of the last call;
        each statement with its own snapshot) and let the driver own it (its
        writes then go with the ``COMMIT``, see ``commit``): only on PostgreSQL with psycopg, in a locking unit
        that has sent nothing yet; ``None`` otherwise (the caller runs its statement its own way). ``later``: the
        statements the unit will defer (prepared beforehand, with the ledger's flush, when the connection lacks
        them)."""
        driver = self.connection.connection.driver_connection
        if (
            not self._locking
            or self._owned is not None
            or not isinstance(driver, psycopg.Connection)
            or driver.pgconn.transaction_status != TransactionStatus.IDLE
            or driver.pgconn.pipeline_status != PipelineStatus.OFF
        ):
            return None
        driver.autocommit = True  # psycopg sends no BEGIN of its own: ours goes with the statement
        self._owned = driver
        later = (FLUSH_STATEMENT, *later)
        return prepared.run(driver, self.connection.connection.info, calls, begin=True, setup=setup, prepare=later)

    def flush(self) -> None:
        """Send the deferred statements and write what the ledger session buffered (done automatically before
        commit)."""
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            driver = self.connection.connection.driver_connection
            assert driver is not None
            for statement, params in deferred:
                driver.execute(statement.sql if isinstance(statement, prepared.Statement) else statement, params)
        self.ledger.flush()

    def commit(self, transaction: RootTransaction) -> None:
        """Flush and commit. A driver-owned transaction whose writes are all prepared statements (the ledger's and
        the deferred ones) commits in one simple query: ``EXECUTE ...; EXECUTE ...; COMMIT``, or, when a deferred
        statement ``takes_ledger`` (the P2P send's write), ``EXECUTE write(its rows and the ledger's); COMMIT``; any
        other in one psycopg pipeline (on PostgreSQL), the flush's statements and the ``COMMIT``."""
        driver = self._owned
        if driver is None:
            with pipelined(self.connection):
                self.flush()
                transaction.commit()
            return
        calls: list[prepared.Call] = []
        if all(isinstance(statement, prepared.Statement) for statement, _ in self._deferred):
            calls = [(s, p) for s, p in self._deferred if isinstance(s, prepared.Statement)]
            self._deferred = []
            taker = next((n for n, (statement, _) in enumerate(calls) if statement.takes_ledger), None)
            arrays = None if taker is None else self.ledger.take_write_arrays()
            if taker is not None and arrays is not None:  # the ledger's rows go in that statement (the P2P send's)
                statement, params = calls[taker]
                calls[taker] = (statement, {**params, **arrays})
            elif ledger := self.ledger.take_writes():
                calls.insert(0, (FLUSH_STATEMENT, ledger))
        self.flush()  # whatever is left (holds; statements not prepared), inside the transaction
        prepared.run(driver, self.connection.connection.info, calls, commit=True)
        transaction.commit()  # SQLAlchemy's bookkeeping: psycopg sees the transaction ended, sends nothing

    def release(self) -> None:
        """After the transaction ended (committed or rolled back): the driver back in its usual mode for the pool
        (the connection discarded if that cannot be done)."""
        driver, self._owned = self._owned, None
        if driver is None:
            return
        try:
            if driver.pgconn.transaction_status != TransactionStatus.IDLE:
                driver.rollback()
            driver.autocommit = False
        except psycopg.Error:
            with suppress(Exception):
                self.connection.invalidate()  # the pool discards it


_HOLDING_THE_UNIT = ("audit", "wallet_sends")  # made with the unit's bound methods (``SqlUnitOfWork.end``)


class _ThreadPin(threading.local):
    """A thread's pinned connection of one kind (``_Pins``), the process that opened it, and whether a block on this
    thread is using it now (a nested block then takes a pooled connection)."""

    conn: Connection | None = None
    pid: int = 0
    busy: bool = False


class _Pins:
    """Up to ``limit`` threads each keep one connection of the engine's (autocommit ones for reading), taken from the
    pool once instead of once per block: ``take`` gives this thread's (pinned now if there is room) or None (use a
    pooled one: no room, a nested block, a limit of 0). A thread's connection goes back to the pool when the thread
    ends, or at ``close``; ``drop`` returns one that is no longer fit for use. After a fork the child pins its own:
    the parent's connections are never used nor closed by it (kept referenced: collected, they would close its
    sessions)."""

    def __init__(self, engine: Engine, limit: int, *, autocommit: bool) -> None:
        self._engine, self._limit, self._autocommit = engine, limit, autocommit
        self.thread = _ThreadPin()
        self._pinned: set[Connection] = set()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._inherited: list[Connection] = []

    def take(self) -> Connection | None:
        thread = self.thread
        if thread.busy or not self._limit:
            return None
        pid = os.getpid()
        if thread.conn is not None and thread.pid == pid and not thread.conn.closed:
            # its mode was checked at the end of its last block (``fit``), and nothing used it since
            if not thread.conn.invalidated:
                return thread.conn
            self.drop(thread.conn, discard=True)  # it would reconnect out of its mode: pinned afresh below
        with self._lock:
            if pid != self._pid:  # a forked child: the parent's connections are not ours to use or close
                self._inherited.extend(self._pinned)
                self._pinned, self._pid = set(), pid
            if len(self._pinned) >= self._limit:
                return None
        conn = self._engine.connect()  # not under the lock
        if self._autocommit:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        with self._lock:
            room = len(self._pinned) < self._limit  # another thread may have taken the last place meanwhile
            if room:
                self._pinned.add(conn)
        if not room:
            conn.close()
            return None
        thread.conn, thread.pid = conn, pid
        ended = weakref.finalize(threading.current_thread(), self._unpin, conn)  # back to the pool when it ends
        ended.atexit = False  # at exit the process's sockets close anyway
        return conn

    def fit(self, conn: Connection) -> bool:
        """Whether this pin's ``conn`` is still the session it was pinned as: not invalidated (SQLAlchemy would
        reconnect it on its next use, on a fresh driver connection without the pin's autocommit, which a block of
        reads and lone writes must never run on: the writes would be rolled back at its end) and, on psycopg, in the
        pin's mode (autocommit for reading)."""
        if conn.invalidated:
            return False
        driver = conn.connection.driver_connection
        return not isinstance(driver, psycopg.Connection) or driver.autocommit == self._autocommit

    def drop(self, conn: Connection, *, discard: bool = False) -> None:
        """Unpin this thread's ``conn`` (broken, or left in a state the next block must not inherit): closed, it goes
        back to the pool, which discards it if it was invalidated (``discard`` invalidates it first: a connection
        whose session state is in doubt is never handed out again); the thread's next block pins another."""
        self.thread.conn = None
        if discard:
            with suppress(Exception):
                conn.invalidate()
        self._unpin(conn)

    def _unpin(self, conn: Connection) -> None:
        with self._lock:
            if conn not in self._pinned or os.getpid() != self._pid:  # a forked child never closes the parent's
                return
            self._pinned.discard(conn)
        with suppress(Exception):  # closing returns it to the pool (or drops it, if it broke)
            conn.close()

    def close(self) -> None:
        with self._lock:
            pinned, self._pinned = list(self._pinned), set()
            if os.getpid() != self._pid:  # a forked child: the parent's, kept referenced and left open
                self._inherited.extend(pinned)
                return
        for conn in pinned:
            with suppress(Exception):
                conn.close()


class SqlStorage:
    """Holds the engine; ``unit_of_work()`` is the ``UnitOfWorkFactory`` and ``ledger_store`` the ``LedgerStore``.

    ``cipher`` seals webhook endpoint secrets (the composition root passes ``SecretCipher.from_vault(vault)``);
    ``allow_plaintext`` is for tests only. ``personal`` seals personal data and keys phone and email lookups (the
    root passes the vault's ``PersonalData``; without one, personal data is stored as it is).

    ``pinned_readers``: on PostgreSQL, up to this many threads each keep one connection, in autocommit, for their
    ``reading()`` blocks (taking a connection from the pool, switching it to autocommit and back and returning it
    was about a quarter of an invoice read's CPU in the process). ``pinned_writers``: likewise, up to this many
    threads each keep one connection for their units of work (the pool's checkout and checkin were about 3% of a
    P2P send's client instructions). Threads past those numbers, nested blocks and SQLite use a pooled connection
    per block as before. A thread's connections go back to the pool when the thread ends, or at ``close()``; a
    reading one that broke, or is no longer in autocommit, is dropped after its block (or when the next block takes
    it) and the next read pins another, in autocommit: never reconnected in place, which SQLAlchemy would do on a
    fresh session outside autocommit (the lone writes of a reading block, an invoice's address index, then rolled
    back at its end; found by ``make chaos``'s database restart); a
    writing one is dropped after a block that left it invalidated, closed or not idle (a unit that failed on a
    healthy connection keeps it: its transaction was rolled back). After a fork the child pins its own (the
    parent's sockets are never used).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ids: IdGenerator | None = None,
        cipher: SecretCipher | None = None,
        allow_plaintext: bool = False,
        personal: PersonalData | None = None,
        pinned_readers: int = 0,
        pinned_writers: int = 0,
    ) -> None:
        self.engine = engine
        self.ledger_store = SqlLedgerStore(engine)
        self._ids, self._cipher, self._allow_plaintext = ids, cipher, allow_plaintext
        self.personal = personal or PersonalData.plaintext()
        postgres = engine.dialect.name == "postgresql"
        self._readers = _Pins(engine, pinned_readers if postgres else 0, autocommit=True)
        self._writers = _Pins(engine, pinned_writers if postgres else 0, autocommit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        """A transaction's repositories; it commits on normal exit once the commit fence (if any) holds."""
        with translating():
            pinned = self._writers.take()
            if pinned is None:
                with self.engine.connect() as conn:
                    yield from self._transaction(conn)
                return
            self._writers.thread.busy = True
            try:
                yield from self._transaction(pinned)
            finally:
                self._writers.thread.busy = False
                if not _reusable(pinned):
                    self._writers.drop(pinned, discard=True)

    def _transaction(self, conn: Connection) -> Iterator[SqlUnitOfWork]:
        transaction = conn.begin()
        uow = self._open(conn)
        try:
            yield uow
            uow.hold_fence()
            uow.commit(transaction)
        finally:
            try:
                if transaction.is_active:
                    driver = None if conn.invalidated else conn.connection.driver_connection  # a dead one: gone
                    began = isinstance(driver, psycopg.Connection) and driver.info.transaction_status != IDLE
                    transaction.rollback()
                    if began:  # psycopg follows a ROLLBACK with DEALLOCATE ALL when it holds statements of its own
                        prepared.forget(conn.connection.info)
            finally:
                uow.release()  # even if the rollback failed: never back to the pool in autocommit mode
                uow.end()

    @contextmanager
    def reading(self) -> Iterator[SqlUnitOfWork]:
        """Repositories for reads only: autocommit (each statement its own snapshot), no row locks, no commit."""
        with translating():
            pinned = self._readers.take()
            if pinned is None:
                with self.engine.connect() as conn:
                    yield self._reader(conn.execution_options(isolation_level="AUTOCOMMIT"))
                return
            self._readers.thread.busy = True
            try:
                yield self._reader(pinned)
            finally:
                self._readers.thread.busy = False
                self._reset(pinned)

    def _reader(self, conn: Connection) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            conn,
            self._ids,
            cipher=self._cipher,
            allow_plaintext=self._allow_plaintext,
            locking=False,
            personal=self.personal,
        )

    def _reset(self, conn: Connection) -> None:
        """End what SQLAlchemy began on the connection in the block (in autocommit: nothing on the server), so the
        next block starts clean; a connection that cannot be reset, or is no longer the autocommit session it was
        pinned as (it broke, or was reconnected in the block), is dropped."""
        try:
            if conn.in_transaction():
                conn.rollback()
            if not self._readers.fit(conn):
                self._readers.drop(conn, discard=True)
        except Exception:  # a broken connection: the next read pins another
            self._readers.drop(conn, discard=True)

    def close(self) -> None:
        """Return every pinned connection to the pool (the composition root calls it before disposing of the
        engine)."""
        self._readers.close()
        self._writers.close()

    def _open(self, conn: Connection) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            conn, self._ids, cipher=self._cipher, allow_plaintext=self._allow_plaintext, personal=self.personal
        )

    __call__ = unit_of_work


def _reusable(conn: Connection) -> bool:
    """Whether a unit of work's pinned connection may serve the thread's next one: open, valid, outside any
    transaction (SQLAlchemy's and the server's), and back in its usual mode (``SqlUnitOfWork.release``)."""
    if conn.closed or conn.invalidated or conn.in_transaction():
        return False
    driver = conn.connection.driver_connection
    if isinstance(driver, psycopg.Connection):
        return not driver.closed and not driver.autocommit and driver.pgconn.transaction_status == IDLE
    return True
