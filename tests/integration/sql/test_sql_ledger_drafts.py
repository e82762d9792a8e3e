"""New entries posted by one statement (``ledger_post_new_entries``), held to the general path on PostgreSQL.

The contract suite (tests/contract/test_draft_poster_contract.py) pins down what ``post_drafts`` does; here random
batches go through ``Ledger`` on PostgreSQL (draft path first, general path when declined) and on the plain
in-memory store (general path only) and must end the same way, and the function cannot bypass the books' checks.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptopay.adapters.sql import SqlLedgerStore
from cryptopay.adapters.sql.errors import translating
from cryptopay.core.errors import CryptopayError, UnbalancedEntry
from cryptopay.core.ledger import Entry, EntryRequest, Ledger, Posting
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support.draft_books import DOLLARS, EXPENSE, FLOAT, NOBODY, A, B, C, kes, open_books
from tests.support.sql_backends import empty_postgres


def test_the_function_cannot_unbalance_the_books(pg_engine: Engine) -> None:
    """Called by hand with lines that do not sum to zero, the function's write is refused at commit."""
    store = SqlLedgerStore(pg_engine)
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
    on_sql, in_memory = open_books(sql), open_books(memory)
    for batch in batches:
        assert _outcome(on_sql, batch) == _outcome(in_memory, batch)
    assert sql.balances() == memory.balances()
