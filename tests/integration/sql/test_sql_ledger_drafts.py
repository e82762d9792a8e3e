"""New entries posted by one statement (``ledger_post_new_entries``), held to the general path on PostgreSQL.

The contract suite (tests/contract/test_draft_poster_contract.py) pins down what ``post_drafts`` does; here random
batches go through ``Ledger`` on PostgreSQL (draft path first, general path when declined) and on the plain
in-memory store (general path only) and must end the same way, and the function cannot bypass the books' checks.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from cryptopay.adapters.sql import SqlBatchLedgerStore, downgrade, make_engine, upgrade
from cryptopay.adapters.sql.errors import translating
from cryptopay.core.errors import CryptopayError, UnbalancedEntry
from cryptopay.core.ledger import Account, AccountKind, Entry, EntryRequest, HoldRequest, Ledger, Posting
from cryptopay.core.money import ETH, KES, Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support.draft_books import DOLLARS, ETH_FLOAT, ETHER, EXPENSE, FLOAT, NOBODY, A, B, C, draft, kes, open_books
from tests.support.sql_backends import empty_postgres, postgres_database


def test_the_function_cannot_unbalance_the_books(pg_engine: Engine) -> None:
    """Called by hand with lines that do not sum to zero, the function's write is refused at commit."""
    store = SqlBatchLedgerStore(pg_engine)
    open_books(store)
    entries = '[{"id": "raw", "idempotency_key": "raw", "request_hash": "h", "description": "", ' + (
        '"created_at": "2026-12-05T09:00:00+00:00", "quote_id": null, "meta": "[]"}]'
    )
    lines = (
        f'[{{"entry_id": "raw", "seq": 0, "line_no": 0, "account_code": "{FLOAT}", "asset": "KES", "amount": "5"}},'
        f' {{"entry_id": "raw", "seq": 0, "line_no": 1, "account_code": "{A}", "asset": "KES", "amount": "-4"}}]'
    )
    with pytest.raises(UnbalancedEntry), translating(), pg_engine.begin() as conn:
        conn.execute(
            text("SELECT * FROM ledger_post_new_entries(CAST(:e AS json), CAST(:l AS json))"),
            {"e": entries, "l": lines},
        )
    assert store.balances([A])[0].posted == kes("100")


_KES_TRANSFER = st.tuples(
    st.sampled_from([FLOAT, A, B, C, EXPENSE, DOLLARS, NOBODY]),
    st.sampled_from([FLOAT, A, B, C, EXPENSE]),
    st.integers(min_value=1, max_value=15_000).map(lambda cents: Money.from_minor(cents, KES)),
)
_ETH_TRANSFER = st.tuples(  # 18 decimals, amounts from one wei to about 12 ETH
    st.sampled_from([ETH_FLOAT, ETHER, A]),
    st.sampled_from([ETH_FLOAT, ETHER]),
    st.integers(min_value=1, max_value=12 * 10**18).map(lambda wei: Money.from_minor(wei, ETH)),
)
transfers = st.lists(
    st.tuples(st.integers(min_value=0, max_value=12).map(lambda n: f"k{n}"), st.one_of(_KES_TRANSFER, _ETH_TRANSFER)),
    min_size=1,
    max_size=5,
    unique_by=lambda t: t[0],
).map(lambda items: [(key, *transfer) for key, transfer in items])


def _outcome(ledger: Ledger, batch: list[tuple[str, str, str, Money]]) -> Any:
    requests = [EntryRequest(k, (Posting.debit(d, m), Posting.credit(c, m))) for k, d, c, m in batch]
    try:
        entries: list[Entry] = ledger.post_many(requests) if len(requests) > 1 else [ledger.post(requests[0])]
    except CryptopayError as error:
        return type(error).__name__, str(error)
    return [(e.idempotency_key, e.lines) for e in entries]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(transfers, min_size=1, max_size=6), held=st.integers(min_value=0, max_value=10_000))
def test_same_outcomes_and_history_as_the_in_memory_ledger(pg_engine: Engine, batches: list[Any], held: int) -> None:
    """Random batches in KES and ETH (repeated keys, unknown accounts, wrong assets, overdrafts among them), with
    part of A's balance held, end the same way on PostgreSQL, where new entries take the one-statement path, as on
    the in-memory store: same errors, same lines with the same balance history, same balances."""
    empty_postgres(pg_engine)
    sql, memory = SqlBatchLedgerStore(pg_engine), InMemoryLedgerStore()
    on_sql, in_memory = open_books(sql), open_books(memory)
    if held:
        for ledger in (on_sql, in_memory):  # pending: A's available balance is less than its posted balance
            ledger.hold(HoldRequest("held", A, C, Money.from_minor(held, KES)))
    for batch in batches:
        assert _outcome(on_sql, batch) == _outcome(in_memory, batch)
    assert sql.balances() == memory.balances()


def _blocked_by(engine: Engine, pid: int, seconds: float = 10.0) -> None:
    """Wait until some backend waits on a lock held by backend ``pid``."""
    deadline = time.monotonic() + seconds
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query, {"pid": pid}).scalar_one():
                return
        time.sleep(0.02)
    raise AssertionError(f"nothing waited on backend {pid}")


def test_an_account_opened_while_a_post_waits_is_never_used_unlocked(pg_engine: Engine) -> None:
    """A post that found an account missing declines, even if the account is opened (and moved) while it waits:
    the books stay consistent and the general path posts it under lock."""
    store = SqlBatchLedgerStore(pg_engine)
    ledger = open_books(store)
    late = "assets:late:KES"
    blocker = pg_engine.connect()
    blocker.execute(text("SELECT 1 FROM ledger_accounts WHERE code = :c FOR UPDATE"), {"c": B})
    blocker_pid = blocker.execute(text("SELECT pg_backend_pid()")).scalar_one()
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            outcome["entry"] = ledger.transfer("waits", debit=late, credit=B, amount=kes("10"))
        except Exception as error:  # reported below
            outcome["error"] = error

    worker = threading.Thread(target=post)
    worker.start()
    _blocked_by(pg_engine, blocker_pid)  # the post found ``late`` missing and now waits for B
    ledger.open_account(Account(late, AccountKind.ASSET, KES, allow_negative=True))
    with store.session() as session:  # a general-path transfer from the new account, committed while the post waits
        ledger.transfer("meanwhile", debit=late, credit=FLOAT, amount=kes("5"), session=session)
        session_pid = session.connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        blocker.rollback()  # release B: the post goes on and must now wait for ``late``
        _blocked_by(pg_engine, session_pid)
    worker.join(timeout=30)
    blocker.close()

    assert "error" not in outcome, outcome
    assert (outcome["entry"].lines[0].balance_before, outcome["entry"].lines[0].balance_after) == (
        kes("5").amount,
        kes("15").amount,
    )
    assert ledger.balance(late).posted == kes("15")
    assert all(total == 0 for total in ledger.trial_balance().values())


def test_without_migration_0006_the_ledger_takes_the_general_path(postgres_admin_url: str) -> None:
    """Code deployed before its migration: every new entry is posted the general way, none is lost."""
    with postgres_database(postgres_admin_url, "cryptopay_no0006") as url:
        downgrade(url, "0005")
        engine = make_engine(url)
        try:
            store = SqlBatchLedgerStore(engine)
            ledger = open_books(store)
            assert store.post_drafts([draft("d", Posting.debit(A, kes("1")), Posting.credit(B, kes("1")))]) is None
            entry = ledger.post(EntryRequest("t", (Posting.debit(A, kes("2")), Posting.credit(B, kes("2")))))
            assert entry.lines[1].balance_after == kes("102").amount
            upgrade(url)
            fresh = SqlBatchLedgerStore(engine)
            assert fresh.post_drafts([draft("d", Posting.debit(A, kes("1")), Posting.credit(B, kes("1")))]) is not None
        finally:
            engine.dispose()
