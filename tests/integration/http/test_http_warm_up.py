"""A production worker warms up at start (``build_production_app`` -> ``bootstrap.warmup.warm_up``), before it takes
traffic: the parts a creation uses built, the storage's statements compiled and converters built, the first reads
run, on the real database and writing nothing; and a warm-up that fails (the database down at start) leaves a
worker that starts, serves and says honestly that it is not ready."""

from __future__ import annotations

import gc
import logging
import secrets
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.adapters.sql.documents import converter as documents
from cryptopay.adapters.sql.repositories._base import _STATEMENTS
from cryptopay.adapters.sql.tables import metadata
from cryptopay_http.convert import converter as edge
from cryptopay_http.runtime import Runtime
from cryptopay_http.wsgi import build_production_app
from flask import Flask

from tests.integration.http.test_http_hot_paths import MNEMONIC, _merchant_key
from tests.support.fx_sandbox import running_fx_sandbox
from tests.support.sql_backends import postgres_database

pytestmark = pytest.mark.redis


@pytest.fixture
def worker_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Flask]]:
    """Apps built as a server's worker builds them (from the environment); their services closed, the root
    logger's handlers and the collector's frozen objects put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    for name in [name for name in __import__("os").environ if name.startswith("CRYPTOPAY_")]:
        monkeypatch.delenv(name)
    frozen = gc.get_freeze_count()  # the suite's own (the root conftest freezes what collection left)
    built: list[Flask] = []
    yield built
    for app in built:
        runtime: Runtime = app.extensions["cryptopay"]
        runtime.services.close()
    root.handlers[:], root.level = handlers, level
    gc.unfreeze()
    if frozen:  # the suite's objects frozen again, the apps' garbage collected first
        gc.collect()
        gc.freeze()


def _env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _rows(admin_url: str, database_url: str) -> dict[str, object]:
    """Every table's row count and the audit chain's head: what a write would change."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        counts: dict[str, object] = {
            table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # type: ignore[index]
            for table in sorted(metadata.tables)
        }
        counts["audit_head"] = conn.execute("SELECT seq, hash FROM audit_head").fetchall()
    return counts


def _cached_statements() -> int:
    return sum(len(statement._compiled) for statement in list(_STATEMENTS))


def test_a_worker_warms_up_at_start_writes_nothing_and_its_first_creation_builds_nothing(
    postgres_admin_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    worker_start: list[Flask],
    capfd: pytest.CaptureFixture[str],
) -> None:
    with running_fx_sandbox() as fx, postgres_database(postgres_admin_url, "warm_up") as database_url:
        _env(
            monkeypatch,
            {
                "CRYPTOPAY_DATA_DIR": str(tmp_path_factory.mktemp("warm-up")),
                "CRYPTOPAY_DATABASE_URL": database_url,
                "CRYPTOPAY_REDIS_URL": redis_url,
                "CRYPTOPAY_DEPLOYMENT": f"warm{uuid.uuid4().hex[:8]}",
                "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
                "CRYPTOPAY_COOKIE_SECURE": "false",
                "CRYPTOPAY_FX_SANDBOX_URL": fx.url,
                "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9/unused",
                "CRYPTOPAY_EVM_XPUB": account_xpub(MNEMONIC),
            },
        )
        setup = build_production_app()  # another worker, earlier: a merchant with a store and an API key
        worker_start.append(setup)
        key = _merchant_key(setup.test_client())
        before = _rows(postgres_admin_url, database_url)
        capfd.readouterr()

        app = build_production_app()  # this worker's start
        worker_start.append(app)

        logged = capfd.readouterr().err
        assert "warmed up in" in logged, logged
        assert "warm-up incomplete" not in logged
        for step in ("storage", "invoicing", "fx", "identity", "addresses", "reads", "edge"):
            assert f"{step} " in logged.split("warmed up in", 1)[1]
        assert _rows(postgres_admin_url, database_url) == before  # no row added, changed or removed; the chain too

        compiled = _cached_statements()
        converters = (documents._unstructure_func.dispatch.cache_info(), edge._unstructure_func.dispatch.cache_info())
        headers = {"authorization": f"Bearer {key}", "idempotency-key": uuid.uuid4().hex}
        body = {"amount": "5000", "currency": "KES", "rails": ["usdt-ethereum"]}
        created = app.test_client().post("/v1/invoices", json=body, headers=headers)
        assert created.status_code == 201, created.json
        assert _cached_statements() == compiled  # the creation's prebuilt statements were compiled at start
        after = (documents._unstructure_func.dispatch.cache_info(), edge._unstructure_func.dispatch.cache_info())
        assert [info.misses for info in after] == [info.misses for info in converters]  # converters built at start


def test_a_worker_whose_warm_up_fails_still_starts_serves_and_is_honestly_not_ready(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    worker_start: list[Flask],
    capfd: pytest.CaptureFixture[str],
) -> None:
    _env(
        monkeypatch,
        {
            "CRYPTOPAY_DATA_DIR": str(tmp_path_factory.mktemp("warm-up-down")),
            "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://postgres:hunter2-secret@127.0.0.1:9/down",  # nobody
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_COOKIE_SECURE": "false",
            "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9/unused",
            "CRYPTOPAY_EVM_XPUB": account_xpub(MNEMONIC),
        },
    )
    app = build_production_app()
    worker_start.append(app)

    logged = capfd.readouterr().err
    assert "warm-up incomplete" in logged, logged
    assert "reads (Unavailable)" in logged  # the database's error as the storage translates it
    assert "hunter2" not in logged  # the exception's type only: never its message, which names the URL
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # it serves
    ready = client.get("/readyz")
    assert ready.status_code == 503  # and says it cannot work yet
    assert ready.json["checks"]["database"] != "ok"
