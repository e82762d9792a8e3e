"""The ledger's reads find accounts and idempotency keys by index probes whatever the tables' statistics (#14,
Performance).

The ledger's prefetch (buys, sells, bills, every ledger-owned transaction) and the wallet send's read lock the
accounts they post to and look up their entries' idempotency keys. Planned as joins or ``= ANY`` filters, a table
never analyzed (or analyzed when it was small) made them sequential scans of every account and every key, a server
cost growing with the ledger. Here both statements are planned against copies of the tables that were filled and
never analyzed (temporary tables, which autovacuum never analyzes either, shadow the real ones), with the generic
plan a prepared statement caches and with a custom plan: every account and key is an index scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from cryptopay.adapters.sql.ledger_flush import PREFETCH, compiled
from cryptopay.adapters.sql.repositories.wallets import _SEND_READ
from sqlalchemy.engine import Engine

ACCOUNTS = KEYS = 3000
PROBED = ("ledger_accounts", "ledger_idempotency")
SHADOWED = (*PROBED, "wallets", "kyc_profiles", "wallet_usage")


@pytest.fixture
def fresh(pg_engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A transaction whose ledger tables are filled, never-analyzed copies of the real ones (with their indexes)."""
    with pg_engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        for table in SHADOWED:
            driver.execute(f"CREATE TEMP TABLE {table} (LIKE public.{table} INCLUDING ALL) ON COMMIT DROP")
        driver.execute(
            "INSERT INTO ledger_accounts (code, kind, asset, allow_negative, debit_normal, debits_posted,"
            " credits_posted, debits_pending, credits_pending, available)"
            " SELECT 'liabilities:user:' || n || ':KES', 'liability', 'KES', false, false, 0, 0, 0, 0, 0"
            " FROM generate_series(1, %s) AS n",
            [ACCOUNTS],
        )
        driver.execute(
            "INSERT INTO ledger_idempotency (key, request_hash, result_kind, result_id)"
            " SELECT 'key-' || n, 'hash', 'entry', 'ent_' || n FROM generate_series(1, %s) AS n",
            [KEYS],
        )
        yield driver
        driver.rollback()


def _plans(driver: psycopg.Connection[Any], statement: str, params: dict[str, Any]) -> list[str]:
    """EXPLAIN of ``statement`` (psycopg ``%(name)s`` parameters) prepared, under a generic and a custom plan."""
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    body = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m[1]) + 1}", statement)
    driver.execute(f"PREPARE probe AS {body}".encode())
    plans = []
    with psycopg.ClientCursor(driver) as cursor:
        for mode in ("force_generic_plan", "force_custom_plan"):
            cursor.execute(f"SET LOCAL plan_cache_mode = {mode}".encode())
            call = f"EXPLAIN EXECUTE probe({', '.join(f'%({n})s' for n in names)})"
            cursor.execute(call.encode(), params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    driver.execute(b"DEALLOCATE probe")
    return plans


def _assert_probes(plans: list[str]) -> None:
    for plan in plans:
        for table in PROBED:
            assert f"Seq Scan on {table}" not in plan, plan
            assert re.search(rf"Index (Only )?Scan using \w+ on {table}\b", plan), plan


def test_the_ledger_prefetch_probes_the_indexes(fresh: psycopg.Connection[Any], pg_engine: Engine) -> None:
    params = {"codes": ["liabilities:user:7:KES", "liabilities:user:8:KES"], "keys": ["key-7", "new-key"]}
    statement = compiled(PREFETCH, pg_engine.dialect)
    _assert_probes(_plans(fresh, statement, params))
    rows = fresh.execute(statement.encode(), params).fetchall()
    assert sorted((r[0], r[1]) for r in rows) == [
        ("a", "liabilities:user:7:KES"),
        ("a", "liabilities:user:8:KES"),
        ("k", "key-7"),
    ]


def test_the_wallet_send_read_probes_the_indexes(fresh: psycopg.Connection[Any]) -> None:
    params = {
        "sender": "usr_1",
        "phone": "phone-hash",
        "username": "baraka",
        "codes": ["liabilities:user:1:KES"],
        "prefix": "liabilities:user:",
        "suffix": ":KES",
        "day_start": "2026-12-06T00:00:00+00:00",
        "month_start": "2026-12-01T00:00:00+00:00",
        "keys": ["key-7"],
        "receive": "receive",  # the recipient's receiving usage (review H14)
    }
    _assert_probes(_plans(fresh, _SEND_READ, params))
