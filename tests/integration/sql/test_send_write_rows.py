"""The P2P send's one write statement takes each table's rows as an array of a row type of migration 0110's
(``ledger_flush.rows_literal``): whatever the fields hold (quotes, backslashes, commas, parentheses, spaces, empty
strings, NULLs, amounts, times), PostgreSQL reads back the very rows, bound as ``prepared.literal`` binds them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cryptopay.adapters.sql.ledger_flush import rows_literal
from cryptopay.adapters.sql.prepared import Statement
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def cursor(sql_pg_url: str) -> Iterator[psycopg.ClientCursor[Any]]:
    url = sql_pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn, psycopg.ClientCursor(conn) as found:
        yield found


texts = st.one_of(st.none(), st.text().filter(lambda t: "\0" not in t), st.sampled_from(['"', "\\", "", "NULL", "a,b"]))
amounts = st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=8))
zones = st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(-timedelta(hours=5, minutes=30))])
entries = st.tuples(
    texts, texts, texts, st.one_of(st.none(), st.datetimes(timezones=zones)), texts, texts, texts, texts
)
lines = st.tuples(
    texts, st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), texts, texts, amounts, amounts, amounts
)


def _read(cursor: psycopg.ClientCursor[Any], name: str, row_type: str, literal: str) -> list[tuple[Any, ...]]:
    statement = Statement(name, f"SELECT * FROM unnest(CAST(%(rows)s AS {row_type}[]))", (("rows", f"{row_type}[]"),))
    if not cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [statement.name]).fetchone():
        cursor.execute(statement.prepare())
    return cursor.execute(statement.execute({"rows": literal}, cursor.connection)).fetchall()


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(entries, max_size=3), st.lists(lines, max_size=3))
def test_the_server_reads_the_rows_bound(
    cursor: psycopg.ClientCursor[Any], entry_rows: list[tuple[Any, ...]], line_rows: list[tuple[Any, ...]]
) -> None:
    assert _read(cursor, "cryptopay_test_entry_rows_v1", "cryptopay_entry_row", rows_literal(entry_rows)) == entry_rows
    found = _read(cursor, "cryptopay_test_line_rows_v1", "cryptopay_line_row", rows_literal(line_rows))
    assert found == [tuple(Decimal(v) if isinstance(v, Decimal) else v for v in row) for row in line_rows]


_EDGE_TEXTS = [
    "1E+3",
    "-0",
    "",
    " ",
    "  lead and trail  ",
    "\t\n\r",
    "a(b",
    "a)b",
    "(",
    ")",
    ",",
    "{x}",
    "NULL",
    "'",
    "é ✓",
]


@pytest.mark.parametrize("text", _EDGE_TEXTS)
def test_bare_and_quoted_fields_read_back(cursor: psycopg.ClientCursor[Any], text: str) -> None:
    """The fast paths' edges: a text that looks like a number or is all whitespace goes bare or quoted and reads
    back the same; an empty text is not NULL; Decimals with an exponent or a negative zero, ints and times go bare."""
    at = datetime(2026, 12, 7, 6, 59, 1, 250, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    entry_rows = [(text, None, "", at, text, None, "x", text), (None, text, text, None, "", "", None, None)]
    assert _read(cursor, "cryptopay_test_entry_rows_v1", "cryptopay_entry_row", rows_literal(entry_rows)) == entry_rows
    amounts = [Decimal("1E+3"), Decimal("-0"), Decimal("-0.00000000"), Decimal("1.5E-7"), Decimal("-12345678901.5")]
    line_rows = [(text, -1, text, "", *amounts[:3]), ("", 0, None, text, *amounts[2:])]
    found = _read(cursor, "cryptopay_test_line_rows_v1", "cryptopay_line_row", rows_literal(line_rows))
    assert found == line_rows
    assert [str(v) for v in found[0][4:] + found[1][4:]] == ["1000", "0", "0E-8", "0E-8", "1.5E-7", "-12345678901.5"]


def test_bound_by_psycopg_too(sql_pg_url: str) -> None:
    """Inside a transaction already under way the write goes through psycopg (server-side binding, in the commit's
    pipeline): the literal, bound as a string, is cast to the row array the same way."""
    rows = [("p2p:trf_1:send", "ab" * 32, "entry", "ent_1"), ('a "quoted", (odd) key', "x", "y", "")]
    url = sql_pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        query = "SELECT * FROM unnest(CAST(%(rows)s AS cryptopay_key_row[]))"
        assert conn.execute(query, {"rows": rows_literal(rows)}).fetchall() == rows
        with conn.pipeline():
            cursor = conn.execute(query, {"rows": rows_literal([])})
        assert cursor.fetchall() == []
