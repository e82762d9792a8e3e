"""The hot paths' parameters rendered as SQL literals by ``prepared.literal``: exactly what psycopg's
``ClientCursor.mogrify`` renders (libpq's escaping) for every value it takes, and psycopg's own rendering for the rest.

Each rendered ``EXECUTE`` is also run against a prepared statement: the server reads back the values bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cryptopay.adapters.sql.prepared import Statement, literal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def cursor(postgres_admin_url: str) -> Iterator[psycopg.ClientCursor[Any]]:
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn, psycopg.ClientCursor(conn) as found:
        yield found


zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=3)), timezone(-timedelta(hours=5, minutes=30)), timezone(timedelta(seconds=90))]
)
words = st.text(st.sampled_from("azAZ09_:.@+- \"',{}\\NULnul"), min_size=0, max_size=12)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=6),
    st.text(),
    st.text(st.sampled_from("ab'\\\"\n\0ü")),
    st.datetimes(timezones=zones),
    st.datetimes(),  # naive: psycopg's own rendering (timestamp)
    st.lists(words, max_size=4),
    st.lists(st.one_of(st.none(), words), max_size=3),
    st.lists(st.integers(0, 9), max_size=2),
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values)
def test_a_literal_is_what_psycopg_renders(cursor: psycopg.ClientCursor[Any], value: Any) -> None:
    try:
        expected: str | type[Exception] = cursor.mogrify("%s", [value])
    except psycopg.Error as error:
        expected = type(error)
    found = literal(value)
    if found is not None:
        assert found == expected
    assert found is not None or not isinstance(value, str | bool | int | type(None)) or "\0" in str(value)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text().filter(lambda t: "\0" not in t), st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_the_server_reads_the_values_bound(cursor: psycopg.ClientCursor[Any], text: str, amount: Decimal) -> None:
    """Rendered into ``EXECUTE`` against a prepared statement of declared types, the server has the very values."""
    at = datetime(2026, 12, 6, 13, 50, 41, 123456, tzinfo=UTC)
    statement = Statement(
        "cryptopay_test_literals_v1",
        "SELECT %(t)s, %(a)s, %(at)s, %(codes)s",
        (("t", "text"), ("a", "numeric"), ("at", "timestamptz"), ("codes", "varchar[]")),
    )
    if not cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [statement.name]).fetchone():
        cursor.execute(statement.prepare())
    params = {"t": text, "a": amount, "at": at, "codes": ["wallet:usr_1:KES", "p2p:trf_1:send"]}
    query = statement.execute(params, cursor.connection)
    assert query == cursor.mogrify(statement.call(), params)
    assert cursor.execute(query).fetchone() == (text, amount, at, ["wallet:usr_1:KES", "p2p:trf_1:send"])


def test_asimple_query_reads_the_chosen_statement_s_rows_as_a_cursor_does(postgres_admin_url: str) -> None:
    """``prepared.run``'s query is read without a cursor: the rows of the statement asked for, loaded by psycopg's
    loaders as a cursor loads them; a failed statement raises psycopg's error."""
    from cryptopay.adapters.sql.prepared import simple_query

    query = b"BEGIN; SET LOCAL work_mem = '8MB'; SELECT 1 AS n, 1.50::numeric AS a, '{\"k\": 1}'::json AS j, NULL AS z; COMMIT"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        with psycopg.ClientCursor(conn, row_factory=psycopg.rows.dict_row) as cursor:
            cursor.execute(query)
            cursor.nextset()
            cursor.nextset()
            expected = cursor.fetchall()
        assert expected == [{"n": 1, "a": Decimal("1.50"), "j": {"k": 1}, "z": None}]
        assert simple_query(conn, query, 2) == expected
        assert simple_query(conn, query, 3) == [] and simple_query(conn, b"SELECT 1 WHERE false", 0) == []
        with pytest.raises(psycopg.errors.DivisionByZero):
            simple_query(conn, b"BEGIN; SELECT 1 / 0", 1)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        simple_query(conn, b"ROLLBACK", 0)
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            simple_query(conn, b"EXECUTE cryptopay_no_such_statement(1)", 0)
        assert simple_query(conn, b"SELECT 2 AS n", 0) == [{"n": 2}]
        with conn.pipeline(), pytest.raises(psycopg.OperationalError):
            simple_query(conn, b"SELECT 2 AS n", 0)  # libpq runs no simple query in a pipeline


def test_simple_query_keeps_one_loader_and_a_statement_s_column_names_per_connection(postgres_admin_url: str) -> None:
    """With the connection's ``info`` (as ``prepared.run`` passes it), the rows are loaded by one ``Transformer``
    kept for the connection and a statement's column names are kept by its name: the same rows as without, a
    cursor's loaders, and a result of another shape under a known name is read by its own names."""
    from cryptopay.adapters.sql.prepared import forget, simple_query

    query = b"SELECT 1 AS n, 1.50::numeric AS a, '{\"k\": 1}'::jsonb AS j, now() > '2000-01-01' AS t"
    info: dict[str, object] = {}
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        plain = simple_query(conn, query, 0)
        assert plain == [{"n": 1, "a": Decimal("1.50"), "j": {"k": 1}, "t": True}]
        assert simple_query(conn, query, 0, info, "shape_1") == plain
        loader = info["cryptopay_loader"]
        assert simple_query(conn, query, 0, info, "shape_1") == plain and info["cryptopay_loader"] is loader
        assert info["cryptopay_names"] == {"shape_1": ["n", "a", "j", "t"]}
        assert simple_query(conn, b"SELECT 2 AS m", 0, info, "shape_1") == [{"m": 2}]  # another column count
        forget(info)
        assert "cryptopay_names" not in info and simple_query(conn, query, 0, info, "shape_1") == plain
    with psycopg.connect(postgres_admin_url, autocommit=True) as other:  # the same info on another connection
        assert simple_query(other, query, 0, info, "shape_1") == plain and info["cryptopay_loader"] is not loader
