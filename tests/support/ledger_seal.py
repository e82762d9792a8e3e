"""Waiting, in tests, until PostgreSQL lets the ledger seal take every committed entry.

The seal takes only entries below the snapshot's xmin, which is the whole server's: a transaction left open in
another database (another test run sharing the server) holds it back, as it would in production. A test that counts
batches waits for that first (bounded), so its batches are the ones it posted for.

When the bound runs out (reader1 L-7) the holder is looked up: a transaction in one of the suite's databases (the
test's own, or any ``cryptopay_*`` one: the other xdist worker's, an earlier block's) is this suite's bug and fails
the test naming it (reader2 L2-5); one in another database is outside the suite (someone's session left open on a
shared server), so the test is skipped naming it, and later tests skip at once while that session stays in a
transaction instead of each waiting out the bound.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["wait_sealable"]

_PASSED = text(
    "SELECT coalesce(max(commit_tx), 0) < CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint) "
    "FROM ledger_entries"
)
_HOLDER = text(
    "SELECT datname, pid, backend_xid::text AS xid, state, xact_start FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY age(backend_xid) DESC LIMIT 1"
)
_OUTSIDE: set[tuple[str, int]] = set()  # sessions of other databases that held the xmin past the bound
_SUITE_PREFIX = "cryptopay_"  # every database the suite makes (tests/support/sql_backends.py)


def wait_sealable(engine: Engine | None, *, timeout: float = 120.0) -> None:
    """Return once every committed entry is below the server's xmin (PostgreSQL; at once elsewhere)."""
    if engine is None or engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            if conn.execute(_PASSED).scalar_one():
                return
            holder = conn.execute(_HOLDER).first()
            own = conn.execute(text("SELECT current_database()")).scalar_one()
        key = (holder.datname, holder.pid) if holder is not None else None
        outside = holder is not None and holder.datname != own and not str(holder.datname).startswith(_SUITE_PREFIX)
        if outside and key in _OUTSIDE:
            pytest.skip(
                f"a transaction outside this suite (database {holder.datname}, pid {holder.pid}) holds the xmin"
            )
        if time.monotonic() > deadline:
            if outside and key is not None:
                _OUTSIDE.add(key)
                pytest.skip(
                    f"a transaction outside this suite (database {holder.datname}, pid {holder.pid}, "
                    f"{holder.state} since {holder.xact_start}) held the server's xmin back for {timeout:.0f} s"
                )
            raise AssertionError(f"a transaction on the server held the xmin back for {timeout:.0f} s: {holder}")
        time.sleep(0.2)
