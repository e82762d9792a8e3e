"""New entries posted by one statement (``SqlLedgerStore.post_drafts`` over ``ledger_post_new_entries``).

The store applies the ledger's rules itself there, so these tests hold it to the general path: the same batches
give the same outcome and the same balance history as the in-memory store, and everything unusual is declined
(``None``) with nothing written, leaving the general path to replay or refuse precisely.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptopay.adapters.sql import SqlLedgerStore
from cryptopay.adapters.sql.errors import translating
from cryptopay.core.errors import CryptopayError, UnbalancedEntry
from cryptopay.core.ledger import Account, AccountKind, Entry, EntryRequest, Ledger, Posting
from cryptopay.core.ledger.model import EntryDraft
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.system import ManualClock, SequentialIds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support.sql_backends import empty_postgres

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
FLOAT, A, B, C = "assets:float:KES", "liabilities:user:a:KES", "liabilities:user:b:KES", "liabilities:user:c:KES"
EXPENSE, DOLLARS, NOBODY = "expenses:fees:KES", "liabilities:user:a:USDT", "liabilities:user:nobody:KES"
ACCOUNTS = [
    Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True),
    Account(A, AccountKind.LIABILITY, KES),
    Account(B, AccountKind.LIABILITY, KES),
    Account(C, AccountKind.LIABILITY, KES),
    Account(EXPENSE, AccountKind.EXPENSE, KES),
    Account(DOLLARS, AccountKind.LIABILITY, USDT),
]


def kes(value: str) -> Money:
    return Money.of(value, KES)


def _books(store: Any) -> Ledger:
    ledger = Ledger(store, clock=ManualClock(NOW), ids=SequentialIds(), sleep=lambda _s: None)
    for account in ACCOUNTS:
        ledger.open_account(account)
    ledger.post_many(
        [EntryRequest(f"fund-{c}", (Posting.debit(FLOAT, kes("100")), Posting.credit(c, kes("100")))) for c in (A, B)]
    )
    return ledger


def _draft(key: str, *postings: Posting) -> EntryDraft:
    return EntryDraft(f"ent_{key}", key, "0" * 64, postings, "", NOW)


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("ledger_entries", "ledger_lines", "ledger_idempotency")
        )


@pytest.fixture
def store(pg_engine: Engine) -> SqlLedgerStore:
    store = SqlLedgerStore(pg_engine)
    _books(store)
    return store


def test_post_drafts_posts_new_entries_with_balance_history(store: SqlLedgerStore) -> None:
    """A clean batch is posted by the store itself; each line carries the running balance within the batch."""
    posted = store.post_drafts(
        [
            _draft("d1", Posting.debit(A, kes("30")), Posting.credit(B, kes("30"))),
            _draft("d2", Posting.debit(B, kes("5.50")), Posting.credit(A, kes("5.50"))),
            _draft("d3", Posting.debit(EXPENSE, kes("1")), Posting.credit(FLOAT, kes("1"))),
        ]
    )
    assert posted is not None
    history = [[(line.account, line.balance_before, line.balance_after) for line in e.lines] for e in posted]
    assert history == [
        [(A, kes("100").amount, kes("70").amount), (B, kes("100").amount, kes("130").amount)],
        [(B, kes("130").amount, kes("124.50").amount), (A, kes("70").amount, kes("75.50").amount)],
        [(EXPENSE, kes("0").amount, kes("1").amount), (FLOAT, kes("200").amount, kes("199").amount)],
    ]
    assert [b.posted for b in store.balances([A, B, FLOAT])] == [kes("75.50"), kes("124.50"), kes("199")]
    assert store.entries(account=EXPENSE) == [posted[2]]


@pytest.mark.parametrize(
    ("reason", "drafts"),
    [
        ("a key already recorded", [_draft("fund-" + A, Posting.debit(FLOAT, kes("1")), Posting.credit(A, kes("1")))]),
        ("an unknown account", [_draft("x", Posting.debit(A, kes("1")), Posting.credit(NOBODY, kes("1")))]),
        ("an account of another asset", [_draft("x", Posting.debit(DOLLARS, kes("1")), Posting.credit(A, kes("1")))]),
        ("a balance gone negative", [_draft("x", Posting.debit(A, kes("100.01")), Posting.credit(B, kes("100.01")))]),
        (
            "a balance negative after one entry, restored by the next",
            [
                _draft("x1", Posting.debit(A, kes("150")), Posting.credit(C, kes("150"))),
                _draft("x2", Posting.debit(B, kes("60")), Posting.credit(A, kes("60"))),
            ],
        ),
    ],
)
def test_post_drafts_declines_with_nothing_written(
    store: SqlLedgerStore, pg_engine: Engine, reason: str, drafts: list[EntryDraft]
) -> None:
    """Whatever the general path must decide is declined, and the statement leaves no trace."""
    before = (_counts(pg_engine), store.balances())
    assert (
        store.post_drafts([_draft("clean", Posting.debit(B, kes("1")), Posting.credit(C, kes("1"))), *drafts]) is None
    )
    assert (_counts(pg_engine), store.balances()) == before, reason


def test_the_function_cannot_unbalance_the_books(store: SqlLedgerStore, pg_engine: Engine) -> None:
    """Called by hand with lines that do not sum to zero, the function's write is refused at commit."""
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


transfers = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=12).map(lambda n: f"k{n}"),
        st.sampled_from([FLOAT, A, B, C, EXPENSE, DOLLARS, NOBODY]),
        st.sampled_from([FLOAT, A, B, C, EXPENSE]),
        st.integers(min_value=1, max_value=15_000).map(lambda cents: Money.from_minor(cents, KES)),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda t: t[0],
)


def _outcome(ledger: Ledger, batch: list[tuple[str, str, str, Money]]) -> Any:
    requests = [EntryRequest(k, (Posting.debit(d, m), Posting.credit(c, m))) for k, d, c, m in batch]
    try:
        entries: list[Entry] = ledger.post_many(requests) if len(requests) > 1 else [ledger.post(requests[0])]
    except CryptopayError as error:
        return type(error).__name__, str(error)
    return [(e.idempotency_key, e.lines) for e in entries]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(transfers, min_size=1, max_size=6))
def test_same_outcomes_and_history_as_the_in_memory_ledger(pg_engine: Engine, batches: list[Any]) -> None:
    """Random batches (repeated keys, unknown accounts, wrong assets, overdrafts among them) end the same way on
    PostgreSQL, where new entries take the one-statement path, as on the in-memory store: same errors, same lines
    with the same balance history, same balances."""
    empty_postgres(pg_engine)
    sql, memory = SqlLedgerStore(pg_engine), InMemoryLedgerStore()
    on_sql, in_memory = _books(sql), _books(memory)
    for batch in batches:
        assert _outcome(on_sql, batch) == _outcome(in_memory, batch)
    assert sql.balances() == memory.balances()
