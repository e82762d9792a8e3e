"""The test databases bound how long anything waits in them: a lock wait or a forgotten transaction ends in an error
that names it, never in a run that hangs silently until CI's limit (``tests.support.sql_backends.WAIT_BOUNDS``)."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.sql_backends import WAIT_BOUNDS, postgres_database

pytestmark = pytest.mark.postgres


def _settings(url: str) -> dict[str, str]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in WAIT_BOUNDS}


def test_the_session_database_bounds_lock_waits_and_idle_transactions(database_url: str) -> None:
    assert _settings(database_url) == {"lock_timeout": "2min", "idle_in_transaction_session_timeout": "10min"}


def test_a_copy_of_the_template_and_a_reused_copy_bound_them_too(postgres_admin_url: str) -> None:
    """A copy does not inherit its template's database settings; one given back and handed out again keeps them."""
    with postgres_database(postgres_admin_url, "cryptopay_bounds") as first:
        assert _settings(first) == WAIT_BOUNDS
    with postgres_database(postgres_admin_url, "cryptopay_bounds") as again:
        assert _settings(again) == WAIT_BOUNDS
