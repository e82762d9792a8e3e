"""Ledger-owned PostgreSQL transactions (``BEGIN; EXECUTE ...`` over prepared statements, and new entries posted
by one ``EXECUTE`` of ``ledger_post_new_entries``) leave nothing behind.

The fast path flips the pooled connection into autocommit mode and sends BEGIN and COMMIT itself; these tests pin
down that the connection goes back to the pool transactional, that a failed transfer rolls back completely, and
that prepared statements lost to ``DEALLOCATE ALL`` are prepared again (after one retried conflict).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptopay.adapters.sql import SqlBatchLedgerStore, SqlLedgerStore, make_engine, prepared
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import InsufficientFunds
from cryptopay.core.ledger import Account, AccountKind, HoldRequest, Ledger
from cryptopay.core.money import KES, Money
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support.sql_backends import empty_postgres

BANK, ALICE, BOB = "assets:bank:KES", "liabilities:user:alice:KES", "liabilities:user:bob:KES"


@pytest.fixture
def one_connection(sql_pg_url: str) -> Iterator[Engine]:
    """An engine whose pool holds a single connection, so every transaction reuses it."""
    engine = make_engine(sql_pg_url, pool_size=1)
    engine.pool._max_overflow = 0  # type: ignore[attr-defined]  # strictly one connection
    empty_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=[SqlLedgerStore, SqlBatchLedgerStore])
def store(request: pytest.FixtureRequest, one_connection: Engine) -> SqlLedgerStore:
    """The production store, and the opt-in SDK/batch store (new entries in one statement)."""
    found: SqlLedgerStore = request.param(one_connection)
    return found


@pytest.fixture
def ledger(store: SqlLedgerStore) -> Ledger:
    ledger = Ledger(store)
    ledger.open_account(Account(BANK, AccountKind.ASSET, KES, allow_negative=True))
    for code in (ALICE, BOB):
        ledger.open_account(Account(code, AccountKind.LIABILITY, KES))
    ledger.transfer("fund", debit=BANK, credit=ALICE, amount=Money.of("100", KES))
    return ledger


def test_connection_returns_to_the_pool_transactional(ledger: Ledger, one_connection: Engine) -> None:
    """After a ledger-owned transfer the same connection runs a unit of work inside a real transaction."""
    ledger.transfer("t1", debit=ALICE, credit=BOB, amount=Money.of("1", KES))
    with one_connection.connect() as conn:
        assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
    storage = SqlStorage(one_connection)
    with pytest.raises(RuntimeError, match="boom"), storage.unit_of_work() as uow:
        ledger.transfer("t2", debit=ALICE, credit=BOB, amount=Money.of("2", KES), session=uow.ledger)
        uow.flush()
        raise RuntimeError("boom")
    assert ledger.balance(BOB).posted == Money.of("1", KES)  # the unit of work's transfer was rolled back


def test_refused_transfer_changes_nothing(ledger: Ledger, one_connection: Engine) -> None:
    """A transfer refused after its accounts were locked is rolled back, and the next one works."""
    with pytest.raises(InsufficientFunds):
        ledger.transfer("too-much", debit=ALICE, credit=BOB, amount=Money.of("1000", KES))
    with one_connection.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_idempotency WHERE key = 'too-much'")).scalar() == 0
    entry = ledger.transfer("ok", debit=ALICE, credit=BOB, amount=Money.of("5", KES))
    assert [line.balance_after for line in entry.lines] == [Money.of("95", KES).amount, Money.of("5", KES).amount]
    assert ledger.trial_balance() == {"KES": Money.of("0", KES).amount}


def test_prepared_statements_lost_to_deallocate_are_prepared_again(
    ledger: Ledger, store: SqlLedgerStore, one_connection: Engine
) -> None:
    """``DEALLOCATE ALL`` on the pooled connection (psycopg sends it after some rollbacks): a new entry's statement
    of its own is prepared again at once, a transaction's statements after one retry."""
    with one_connection.connect() as conn:
        conn.exec_driver_sql("DEALLOCATE ALL")
        conn.commit()
    entry = ledger.transfer("after-deallocate", debit=ALICE, credit=BOB, amount=Money.of("3", KES))
    assert entry.idempotency_key == "after-deallocate"
    assert ledger.balance(BOB).posted == Money.of("3", KES)
    hold = ledger.hold(HoldRequest("hold-after-deallocate", ALICE, BOB, Money.of("2", KES)))
    assert ledger.balance(ALICE).available == Money.of("95", KES) and hold.amount == Money.of("2", KES)
    with one_connection.connect() as conn:
        names = conn.execute(text("SELECT name FROM pg_prepared_statements WHERE name LIKE 'cryptopay_ledger_%'"))
        held = {name.rsplit("_", 1)[0] for (name,) in names}
    batch = {"cryptopay_ledger_post"} if isinstance(store, SqlBatchLedgerStore) else set()
    assert held == {"cryptopay_ledger_prefetch", "cryptopay_ledger_flush", *batch}


def test_each_statement_is_prepared_once_per_connection(ledger: Ledger, one_connection: Engine) -> None:
    """The ledger's own transactions and a unit of work whose driver owns the transaction (the P2P send's, which
    commits with the ledger's flush statement) share the connection's prepared statements: none is prepared twice
    under two names."""
    ledger.transfer("own", debit=ALICE, credit=BOB, amount=Money.of("1", KES))
    storage = SqlStorage(one_connection)
    with storage.unit_of_work() as uow:
        read = prepared.Statement("cryptopay_test_read_s1", "SELECT CAST(%(one)s AS integer) AS one", (("one", "int"),))
        assert uow.begin_prepared((read, {"one": 1})) == [{"one": 1}]
        ledger.transfer("in-unit", debit=ALICE, credit=BOB, amount=Money.of("2", KES), session=uow.ledger)
    assert ledger.balance(BOB).posted == Money.of("3", KES)
    with one_connection.connect() as conn:
        names = [name for (name,) in conn.execute(text("SELECT name FROM pg_prepared_statements"))]
    ledger_statements = sorted(name.rsplit("_", 1)[0] for name in names if name.startswith("cryptopay_ledger_"))
    assert ledger_statements == sorted(set(ledger_statements))
    assert "cryptopay_ledger_flush" in ledger_statements
