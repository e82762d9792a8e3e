"""Two deployments on one Redis: their job ids, queues, FX rates and rate-limit counts never meet."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from cryptopay.adapters.deployment import RedisKeys
from cryptopay.adapters.fx import RedisRateCache
from cryptopay.adapters.queue import RqQueue
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.queue import JobRegistry
from cryptopay_http.ratelimit import RedisRateLimiter

from tests.support.sql_backends import migrated_sqlite

pytestmark = pytest.mark.redis


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def two() -> tuple[RedisKeys, RedisKeys]:
    """Two deployment names unique to this test run."""
    run = secrets.token_hex(3)
    return RedisKeys.of(f"a-{run}"), RedisKeys.of(f"b-{run}")


def test_one_scheduled_job_id_is_enqueued_and_run_once_per_deployment(client, two) -> None:
    """The same repeating-job id is new to each deployment, and each worker runs only its own deployment's job."""
    ran: dict[str, list[dict]] = {"a": [], "b": []}
    queues = {}
    for name, keys in zip("ab", two, strict=True):
        registry = JobRegistry()
        registry.register("settlements.run", ran[name].append)
        queue = RqQueue(client, namespace=keys.queue_namespace, queue_name="jobs")
        queues[name] = (queue, registry)
    job_id = "settlements-run-2026-12-05T10-00"
    first = queues["a"][0].enqueue("settlements.run", {"who": "a"}, job_id=job_id)
    second = queues["b"][0].enqueue("settlements.run", {"who": "b"}, job_id=job_id)
    assert first.created and second.created and first.job_id == second.job_id == job_id
    assert not queues["a"][0].enqueue("settlements.run", {"who": "a2"}, job_id=job_id).created
    for name in "ab":
        queue, registry = queues[name]
        queue.worker(registry, fork=False).work(burst=True)
    assert ran == {"a": [{"who": "a"}], "b": [{"who": "b"}]}


def test_fx_rates_and_rate_limits_are_kept_per_deployment(client, two) -> None:
    """One deployment's cached rate and its rate-limit count are invisible to the other."""
    a, b = two
    rate = Rate(Pair.parse("USDT/KES"), "129.45", "binance", datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    RedisRateCache(client, prefix=a.fx_rates).put("binance:USDT/KES", rate, timedelta(seconds=30))
    assert RedisRateCache(client, prefix=a.fx_rates).get("binance:USDT/KES") == rate
    assert RedisRateCache(client, prefix=b.fx_rates).get("binance:USDT/KES") is None
    limiter_a = RedisRateLimiter(client, prefix=a.rate_limits)
    limiter_b = RedisRateLimiter(client, prefix=b.rate_limits)
    assert not [limiter_a.hit("ip:1", limit=1, window_seconds=60) for _ in range(2)][-1].allowed
    assert limiter_b.hit("ip:1", limit=1, window_seconds=60).allowed
    for keys in two:
        for key in client.scan_iter(f"{keys.deployment}:*", count=1000):
            client.delete(key)


def test_two_deployments_wired_from_settings_on_one_redis_keep_their_scheduled_jobs(redis_url, two, tmp_path) -> None:
    """Wired by the composition root, each deployment's queue takes the same repeating-job id as new."""
    from cryptopay.adapters.bootstrap import Settings, build

    job_id = "payouts-query_status-2026-12-05T10-00-00"
    created = []
    for keys in two:
        env = {
            "CRYPTOPAY_DATA_DIR": str(tmp_path / keys.deployment),
            "CRYPTOPAY_REDIS_URL": redis_url,
            "CRYPTOPAY_DEPLOYMENT": keys.deployment,
            "CRYPTOPAY_QUEUE_NAME": "jobs",
        }
        migrated_sqlite(env)
        container = build(Settings.from_env(env))
        try:
            created.append(container.queue.enqueue("payouts.query_status", {}, job_id=job_id).created)
        finally:
            container.close()
    assert created == [True, True]
