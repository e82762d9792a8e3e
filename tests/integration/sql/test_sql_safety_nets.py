"""The database itself refuses what would corrupt the books, even for hand-written SQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from cryptopay.adapters.sql import SqlLedgerStore
from cryptopay.adapters.sql.errors import translating
from cryptopay.core.errors import InsufficientFunds, UnbalancedEntry
from cryptopay.core.ledger import Account, AccountKind, Ledger
from cryptopay.core.money import KES, USDT, Money
from sqlalchemy import exc, text
from sqlalchemy.engine import Engine

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def books(pg_engine: Engine) -> Engine:
    """Two KES accounts and a USDT one, opened through the ledger."""
    ledger = Ledger(SqlLedgerStore(pg_engine))
    ledger.open_account(Account("assets:bank:KES", AccountKind.ASSET, KES, allow_negative=True))
    ledger.open_account(Account("liabilities:user:a:KES", AccountKind.LIABILITY, KES))
    ledger.open_account(Account("liabilities:user:a:USDT", AccountKind.LIABILITY, USDT))
    ledger.transfer("seed", debit="assets:bank:KES", credit="liabilities:user:a:KES", amount=Money.of("10", KES))
    return pg_engine


def _insert_entry(conn, entry_id: str, lines: list[tuple[str, str, str]]) -> None:
    conn.execute(
        text(
            "INSERT INTO ledger_entries (id, idempotency_key, description, created_at, meta) "
            "VALUES (:id, :id, 'raw', :at, '[]')"
        ),
        {"id": entry_id, "at": NOW},
    )
    for number, (account, asset, amount) in enumerate(lines):
        conn.execute(
            text(
                "INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after)"
                " VALUES (:e, :n, :acc, :asset, CAST(:amount AS numeric), 0, 0)"
            ),
            {"e": entry_id, "n": number, "acc": account, "asset": asset, "amount": amount},
        )


def test_raw_unbalanced_entry_is_refused_at_commit(books: Engine) -> None:
    """A hand-written INSERT of an entry whose lines do not sum to zero is refused by the database at commit."""
    with pytest.raises(exc.IntegrityError, match="does not sum to zero"), books.begin() as conn:
        _insert_entry(conn, "raw_1", [("assets:bank:KES", "KES", "5.00"), ("liabilities:user:a:KES", "KES", "-4.99")])
    with books.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_entries WHERE id = 'raw_1'")).scalar() == 0


def test_raw_single_line_and_cross_asset_entries_are_refused(books: Engine) -> None:
    """An entry with one line, or balanced only across two assets, is refused; the error maps to UnbalancedEntry."""
    with pytest.raises(UnbalancedEntry), translating(), books.begin() as conn:
        _insert_entry(conn, "raw_2", [("assets:bank:KES", "KES", "5.00")])
    with pytest.raises(UnbalancedEntry), translating(), books.begin() as conn:
        _insert_entry(
            conn, "raw_3", [("liabilities:user:a:KES", "KES", "1"), ("liabilities:user:a:USDT", "USDT", "-1")]
        )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [("assets:bank:KES", "KES", "5.00"), ("liabilities:user:a:KES", "KES", "-4.99")],
            "ledger entry raw_sum does not sum to zero: KES off by 0.010000000000000000",
        ),
        (
            [
                ("liabilities:user:a:USDT", "USDT", "2"),
                ("liabilities:user:a:KES", "KES", "-1"),
                ("assets:bank:KES", "KES", "3"),
            ],
            "ledger entry raw_sum does not sum to zero: KES off by 2.000000000000000000",
        ),
    ],
    ids=["one-asset", "first-asset-named"],
)
def test_raw_unbalanced_entry_names_the_first_asset_off_and_by_how_much(
    books: Engine, lines: list[tuple[str, str, str]], message: str
) -> None:
    """The refusal names the first asset (in code order) whose lines do not sum to zero and its sum: an entry in one
    asset is checked by one plain aggregate since 0091, one in several by each asset's sum, with the same words."""
    with pytest.raises(exc.IntegrityError, match=re.escape(message)), books.begin() as conn:
        _insert_entry(conn, "raw_sum", lines)


def test_raw_line_added_to_an_old_entry_is_refused(books: Engine) -> None:
    """Adding a line to an entry committed earlier unbalances it, and the database refuses."""
    with books.connect() as conn:
        entry_id = conn.execute(text("SELECT id FROM ledger_entries LIMIT 1")).scalar_one()
    with pytest.raises(exc.IntegrityError, match="does not sum to zero"), books.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after)"
                " VALUES (:e, 9, 'assets:bank:KES', 'KES', 1, 0, 0)"
            ),
            {"e": entry_id},
        )


def test_raw_balanced_entry_is_accepted(books: Engine) -> None:
    """A balanced hand-written entry passes the trigger (the net refuses only what breaks the books)."""
    with books.begin() as conn:
        _insert_entry(conn, "raw_ok", [("assets:bank:KES", "KES", "1.00"), ("liabilities:user:a:KES", "KES", "-1.00")])


def test_raw_second_reversal_of_an_entry_is_refused(books: Engine) -> None:
    """Two entries reversing the same entry are refused by the database (``uq_ledger_entries_reverses``, partial
    since 0090: entries that reverse nothing are not in it, and any number of them may exist)."""
    insert = text(
        "INSERT INTO ledger_entries (id, idempotency_key, description, created_at, meta, reverses) "
        "VALUES (:id, :id, 'raw', :at, '[]', :reverses)"
    )
    with books.connect() as conn:
        seed = conn.execute(text("SELECT id FROM ledger_entries WHERE idempotency_key = 'seed'")).scalar_one()
    with books.connect() as conn:
        writing = conn.begin()  # entries without lines: the balance check at commit would refuse them, roll back
        conn.execute(insert, {"id": "raw_rev_1", "at": NOW, "reverses": seed})
        conn.execute(insert, {"id": "raw_plain_1", "at": NOW, "reverses": None})
        conn.execute(insert, {"id": "raw_plain_2", "at": NOW, "reverses": None})
        with pytest.raises(exc.IntegrityError, match="uq_ledger_entries_reverses"), conn.begin_nested():
            conn.execute(insert, {"id": "raw_rev_2", "at": NOW, "reverses": seed})
        writing.rollback()


def test_entries_and_lines_are_append_only(books: Engine) -> None:
    """UPDATE and DELETE of posted entries and lines are refused."""
    for statement in (
        "UPDATE ledger_lines SET amount = amount * 2",
        "DELETE FROM ledger_lines",
        "UPDATE ledger_entries SET description = 'edited'",
        "DELETE FROM ledger_entries",
    ):
        with pytest.raises(exc.DBAPIError, match="append-only"), books.begin() as conn:
            conn.execute(text(statement))


def test_negative_balance_is_refused_by_check_constraint(books: Engine) -> None:
    """A raw UPDATE that would leave a no-overdraft account negative is refused and maps to InsufficientFunds."""
    with pytest.raises(InsufficientFunds), translating(), books.begin() as conn:
        conn.execute(
            text(
                "UPDATE ledger_accounts SET debits_posted = 20, available = credits_posted - 20 "
                "WHERE code = 'liabilities:user:a:KES'"
            )
        )
    with pytest.raises(exc.IntegrityError, match="available_computed"), books.begin() as conn:
        conn.execute(text("UPDATE ledger_accounts SET available = 999 WHERE code = 'liabilities:user:a:KES'"))


def test_raw_lines_must_be_numbered_from_zero(books: Engine) -> None:
    """A balanced raw entry whose lines skip the numbers 0 and 1 is refused, so old entries cannot be padded later."""
    with books.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_entries (id, idempotency_key, description, created_at, meta) "
                "VALUES ('raw_gap', 'raw_gap', 'raw', :at, '[]')"
            ),
            {"at": NOW},
        )
        for number, amount in ((5, "1.00"), (6, "-1.00")):
            conn.execute(
                text(
                    "INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, "
                    "balance_after) VALUES ('raw_gap', :n, 'assets:bank:KES', 'KES', CAST(:a AS numeric), 0, 0)"
                ),
                {"n": number, "a": amount},
            )
        with pytest.raises(exc.IntegrityError, match="numbered from 0"):
            conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        conn.rollback()


def _insert_line(conn, entry_id: str, number: int, account: str, asset: str, amount: str) -> None:
    conn.execute(
        text(
            "INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after)"
            " VALUES (:e, :n, :acc, :asset, CAST(:amount AS numeric), 0, 0)"
        ),
        {"e": entry_id, "n": number, "acc": account, "asset": asset, "amount": amount},
    )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("assets:bank:KES", "KES", "1"), ("liabilities:user:nobody:KES", "KES", "-1")], "does not exist"),
        ([("liabilities:user:a:USDT", "KES", "1"), ("assets:bank:KES", "KES", "-1")], "USDT|does not exist"),
    ],
    ids=["unknown-account", "account-in-another-asset"],
)
def test_raw_line_on_an_unknown_account_is_refused(
    books: Engine, lines: list[tuple[str, str, str]], message: str
) -> None:
    """A balanced raw entry is still refused when a line names a missing account, or an account of another asset."""
    with pytest.raises(exc.IntegrityError, match=message), books.begin() as conn:
        _insert_entry(conn, "raw_acc", lines)
    with books.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_entries WHERE id = 'raw_acc'")).scalar() == 0


def test_raw_lines_of_a_missing_entry_are_refused(books: Engine) -> None:
    """Balanced lines numbered 0 and 1 that name no entry are refused (they would be postings of nothing)."""
    with pytest.raises(exc.IntegrityError, match="names entry ghost"), books.begin() as conn:
        _insert_line(conn, "ghost", 0, "assets:bank:KES", "KES", "1")
        _insert_line(conn, "ghost", 1, "liabilities:user:a:KES", "KES", "-1")
    with books.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_lines WHERE entry_id = 'ghost'")).scalar() == 0


def test_a_statements_missing_entry_is_named_before_its_unknown_account(books: Engine) -> None:
    """Lines inserted by one statement, the first naming an unknown account and the second a missing entry: the
    refusal names the entry, as the two checks of 0005 did (0091 looks for both at once, then says which)."""
    with pytest.raises(exc.IntegrityError, match="names entry ghost") as refused, books.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before,"
                " balance_after) VALUES ((SELECT min(id) FROM ledger_entries), 7, 'liabilities:user:nobody:KES',"
                " 'KES', 1, 0, 0), ('ghost', 0, 'assets:bank:KES', 'KES', 1, 0, 0)"
            )
        )
    assert getattr(getattr(refused.value.orig, "diag", None), "constraint_name", None) == "fk_lines_entry"


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM ledger_accounts WHERE code = 'liabilities:user:a:USDT'",
        "UPDATE ledger_accounts SET code = 'liabilities:user:b:KES' WHERE code = 'liabilities:user:a:KES'",
        "UPDATE ledger_accounts SET asset = 'USDT' WHERE code = 'liabilities:user:a:KES'",
        "UPDATE ledger_accounts SET allow_negative = true WHERE code = 'liabilities:user:a:KES'",
    ],
    ids=["delete", "recode", "re-asset", "allow-overdraft"],
)
def test_accounts_cannot_be_deleted_or_rekeyed(books: Engine, statement: str) -> None:
    """Lines rely on their account existing as it was: deleting one or changing its identity is refused."""
    with pytest.raises(exc.IntegrityError, match="cannot"), books.begin() as conn:
        conn.execute(text(statement))


_ACCOUNT_COLUMNS = "code, kind, asset, allow_negative, debit_normal, debits_posted, credits_posted, debits_pending, "


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (
            f"INSERT INTO ledger_accounts ({_ACCOUNT_COLUMNS}credits_pending, available) "
            "VALUES ('income:x:KES', 'income', 'KES', false, false, 0, 0, 0, 0, 0)",
            "kind",
        ),
        (
            "UPDATE ledger_accounts SET credits_pending = -1 WHERE code = 'liabilities:user:a:KES'",
            "non_negative",
        ),
        (
            "UPDATE ledger_accounts AS a SET debits_pending = v.debits_pending, available = v.available "
            "FROM json_populate_recordset(NULL::ledger_accounts, "
            """'[{"code": "liabilities:user:a:KES", "debits_pending": "-1", "available": "11"}]') AS v """
            "WHERE a.code = v.code",
            "non_negative",
        ),
    ],
    ids=["unknown-kind", "negative-total", "negative-total-from-json"],
)
def test_account_kinds_and_totals_are_checked(books: Engine, statement: str, refusal: str) -> None:
    """An account's kind is one of five and its four totals are never negative, whoever writes them (the ledger's
    flush builds its balance rows with ``json_populate_recordset``)."""
    with pytest.raises(exc.IntegrityError, match=refusal), books.begin() as conn:
        conn.execute(text(statement))
    with books.connect() as conn:
        found = conn.execute(text("SELECT kind, debits_pending, credits_pending FROM ledger_accounts ORDER BY code"))
        assert [tuple(row) for row in found] == [("asset", 0, 0), ("liability", 0, 0), ("liability", 0, 0)]
