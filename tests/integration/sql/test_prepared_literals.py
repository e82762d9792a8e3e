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
    query = statement.execute(params, cursor)
    assert query == cursor.mogrify(statement.call(), params)
    assert cursor.execute(query).fetchone() == (text, amount, at, ["wallet:usr_1:KES", "p2p:trf_1:send"])
