"""Waiting, in tests, until PostgreSQL lets the ledger seal take every committed entry.

The seal takes only entries below the snapshot's xmin, which is the whole server's: a transaction left open in
another database (another test run sharing the server) holds it back, as it would in production. A test that counts
batches waits for that first (bounded), so its batches are the ones it posted for.
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["wait_sealable"]

_PASSED = text(
    "SELECT coalesce(max(commit_tx), 0) < CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint) "
    "FROM ledger_entries"
)


def wait_sealable(engine: Engine | None, *, timeout: float = 120.0) -> None:
    """Return once every committed entry is below the server's xmin (PostgreSQL; at once elsewhere)."""
    if engine is None or engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            if conn.execute(_PASSED).scalar_one():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"a transaction on the server held the xmin back for {timeout:.0f} s")
        time.sleep(0.2)
