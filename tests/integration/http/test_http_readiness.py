"""Issue 18 #8: /readyz is ready only with the database migrated to head and Redis answering when configured."""

from __future__ import annotations

import secrets
from pathlib import Path

import attrs
import psycopg
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build
from cryptopay.adapters.sql import current, head, upgrade

from tests.integration.http.http_support import fast_hasher, make_app
from tests.support.services import in_memory_services
from tests.support.sql_backends import create_database


def _readyz(env: dict[str, str]) -> tuple[int, dict[str, str]]:
    root = build(RootSettings.from_env(env))
    try:
        services = attrs.evolve(in_memory_services(hasher=fast_hasher()), readiness_checks=root.readiness_checks)
        response = make_app(services).test_client().get("/readyz")
        body = response.json
        return response.status_code, body["checks"]
    finally:
        root.close()


def test_readyz_is_503_on_an_unmigrated_database_and_ok_at_head(postgres_admin_url, tmp_path: Path):
    """An empty PostgreSQL database answers but is not ready until it is migrated to head."""
    name = f"cryptopay_readyz_{secrets.token_hex(4)}"  # unique: other runs and workers share this server
    create_database(postgres_admin_url, name)
    url = postgres_admin_url.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DATABASE_URL": url}
    try:
        status, checks = _readyz(env)
        assert status == 503 and checks == {"database": "ok", "migrations": "failed"}
        upgrade(url)
        assert _readyz(env) == (200, {"database": "ok", "migrations": "ok"})
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_readyz_checks_redis_when_it_is_configured(redis_url, tmp_path: Path):
    """With Redis configured, /readyz pings it: ok when it answers, 503 when it does not."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path)}
    assert _readyz({**env, "CRYPTOPAY_REDIS_URL": redis_url}) == (
        200,
        {"database": "ok", "migrations": "ok", "redis": "ok"},
    )
    status, checks = _readyz({**env, "CRYPTOPAY_REDIS_URL": "redis://127.0.0.1:9/0"})
    assert status == 503 and checks["redis"] == "failed"


def test_a_fresh_data_dir_is_migrated_on_start(tmp_path: Path):
    """The embedded default migrates itself: on an empty data dir the root makes ``cryptopay.db`` at head (the other
    SQLite tests start from a migrated copy, ``tests.support.sql_backends.migrated_sqlite``, and skip this path)."""
    database = tmp_path / "cryptopay.db"
    assert not database.exists()
    assert _readyz({"CRYPTOPAY_DATA_DIR": str(tmp_path)}) == (200, {"database": "ok", "migrations": "ok"})
    assert current(f"sqlite:///{database}") == head()
