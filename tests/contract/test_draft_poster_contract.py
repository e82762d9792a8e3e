"""The ``DraftPoster`` contract (new entries posted by the store itself), on the in-memory reference and PostgreSQL.

PostgreSQL posts drafts with one statement (``ledger_post_new_entries``); the reference applies the core's own
``book`` rules. Both must post a clean batch with the same balance history, and decline (``None``, nothing
written) whatever the general path has to decide. SQLite cannot post drafts and declines them all.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptopay.adapters.sql import SqlBatchLedgerStore, SqlLedgerStore, make_engine
from cryptopay.core.ledger import EntryRequest, Posting
from cryptopay.core.ledger.model import EntryDraft
from cryptopay.core.money import ETH, Asset, Money
from cryptopay.core.ports.ledger import DraftPoster
from cryptopay.core.ports.storage import retrying
from cryptopay.core.testing.ledger import DraftPostingLedgerStore
from sqlalchemy.engine import Engine

from tests.support.draft_books import (
    DOLLARS,
    ETH_FLOAT,
    ETHER,
    EXPENSE,
    FLOAT,
    NOBODY,
    NOW,
    A,
    B,
    C,
    draft,
    kes,
    open_books,
)
from tests.support.sql_backends import SqliteTemplate, empty_postgres

HUGE_ETH = Money.of("9999999999.999999999999999999", ETH)  # 28 digits: two of them make a total of 29


def k4(value: str) -> Money:
    """KES counted in four decimals: not the registered asset (accounts hold KES with two)."""
    return Money(Decimal(value), Asset("KES", 4, fiat=True))


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> Any:
    """A store that posts drafts, with the books above."""
    if request.param == "memory":
        found: Any = DraftPostingLedgerStore()
    else:
        engine: Engine = request.getfixturevalue("contract_pg_engine")
        empty_postgres(engine)
        found = SqlBatchLedgerStore(engine)
    assert isinstance(found, DraftPoster) and found.posts_drafts
    open_books(found)
    return found


def post(store: Any, drafts: list[EntryDraft]) -> Any:
    """``post_drafts``, retried on a transient conflict as ``Ledger`` does."""
    return retrying(lambda: store.post_drafts(drafts), sleep=lambda _s: None)


def test_clean_batch_is_posted_with_balance_history(store: Any) -> None:
    """Each line carries its account's balance before and after it, running through the batch in order."""
    posted = post(
        store,
        [
            draft("d1", Posting.debit(A, kes("30")), Posting.credit(B, kes("30"))),
            draft("d2", Posting.debit(B, kes("5.50")), Posting.credit(A, kes("5.50"))),
            draft("d3", Posting.debit(EXPENSE, kes("1")), Posting.credit(FLOAT, kes("1"))),
        ],
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
    assert [(e.id, e.idempotency_key, e.created_at) for e in posted] == [
        ("ent_d1", "d1", NOW),
        ("ent_d2", "d2", NOW),
        ("ent_d3", "d3", NOW),
    ]


def test_an_account_twice_in_one_entry_is_checked_at_the_entry_end(store: Any) -> None:
    """Within one entry an account may dip below zero between its lines, as in the general path."""
    posted = post(
        store,
        [draft("twice", Posting.debit(A, kes("150")), Posting.credit(A, kes("60")), Posting.credit(C, kes("90")))],
    )
    assert posted is not None
    assert [(line.balance_before, line.balance_after) for line in posted[0].lines] == [
        (kes("100").amount, kes("-50").amount),
        (kes("-50").amount, kes("10").amount),
        (kes("0").amount, kes("90").amount),
    ]


@pytest.mark.parametrize(
    ("reason", "drafts"),
    [
        ("a key already recorded", [draft("fund-" + A, Posting.debit(FLOAT, kes("1")), Posting.credit(A, kes("1")))]),
        ("an unknown account", [draft("x", Posting.debit(A, kes("1")), Posting.credit(NOBODY, kes("1")))]),
        ("an account of another asset", [draft("x", Posting.debit(DOLLARS, kes("1")), Posting.credit(A, kes("1")))]),
        ("a balance gone negative", [draft("x", Posting.debit(A, kes("100.01")), Posting.credit(B, kes("100.01")))]),
        (
            "a scale of KES other than the registered one",
            [draft("x", Posting.debit(A, k4("1.2345")), Posting.credit(B, k4("1.2345")))],
        ),
        (
            "totals beyond the decimal context's 28 digits",
            [draft(f"e{n}", Posting.debit(ETH_FLOAT, HUGE_ETH), Posting.credit(ETHER, HUGE_ETH)) for n in range(2)],
        ),
        (
            "a balance negative after one entry, restored by the next",
            [
                draft("x1", Posting.debit(A, kes("150")), Posting.credit(C, kes("150"))),
                draft("x2", Posting.debit(B, kes("60")), Posting.credit(A, kes("60"))),
            ],
        ),
    ],
)
def test_declines_with_nothing_written(store: Any, reason: str, drafts: list[EntryDraft]) -> None:
    """Whatever the general path must decide is declined, and the batch leaves no trace (its clean part neither)."""
    before = (store.entries(limit=1000), store.balances())
    clean = draft("clean", Posting.debit(B, kes("1")), Posting.credit(C, kes("1")))
    assert post(store, [clean, *drafts]) is None, reason
    assert (store.entries(limit=1000), store.balances()) == before, reason
    assert post(store, [clean]) is not None  # the clean draft's key was not recorded by the declined batch


def test_sqlite_cannot_post_drafts(sqlite_template: SqliteTemplate, tmp_path: Path) -> None:
    """SQLite declines every draft; the ledger then posts through its general path."""
    engine = make_engine(sqlite_template.fresh_url(tmp_path))
    try:
        store = SqlBatchLedgerStore(engine)
        ledger = open_books(store)
        assert not store.posts_drafts
        assert store.post_drafts([draft("d", Posting.debit(A, kes("1")), Posting.credit(B, kes("1")))]) is None
        entry = ledger.post(EntryRequest("d", (Posting.debit(A, kes("1")), Posting.credit(B, kes("1")))))
        assert entry.lines[0].balance_after == kes("99").amount
    finally:
        engine.dispose()


def test_the_production_store_never_posts_drafts(contract_pg_engine: Engine) -> None:
    """The store production flows use is no DraftPoster: only the opt-in SDK/batch store takes the PL/pgSQL path."""
    empty_postgres(contract_pg_engine)
    store = SqlLedgerStore(contract_pg_engine)
    assert not isinstance(store, DraftPoster)
    assert isinstance(SqlBatchLedgerStore(contract_pg_engine), DraftPoster)
