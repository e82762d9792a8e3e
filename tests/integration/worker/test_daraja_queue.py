"""The documented second worker: with ``CRYPTOPAY_DARAJA_QUEUE`` the jobs that call Daraja go to their own queue."""

from __future__ import annotations

import uuid

import pytest
import redis
from cryptopay.adapters.bootstrap import PAYOUT_JOBS, Settings, build
from cryptopay.adapters.ratelimit import ProcessRateLimiter, RedisRateLimiter
from rq import Queue
from rq.serializers import JSONSerializer

from tests.support.sql_backends import migrated_sqlite


@pytest.mark.redis
def test_payout_jobs_go_to_the_daraja_queue_and_the_rest_to_the_main_one(redis_url, tmp_path):
    """payouts.start and payouts.query_status land on CRYPTOPAY_DARAJA_QUEUE; settlements.run on the main queue."""
    main, daraja = f"main-{uuid.uuid4().hex[:8]}", f"daraja-{uuid.uuid4().hex[:8]}"
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_REDIS_URL": redis_url,
        "CRYPTOPAY_QUEUE_NAME": main,
        "CRYPTOPAY_DARAJA_QUEUE": daraja,
    }
    migrated_sqlite(env)
    services = build(Settings.from_env(env))
    client = redis.Redis.from_url(redis_url)
    prefix = services.settings.redis_keys.queue_namespace  # RQ's queues are this deployment's: "<deployment>:<name>"
    queues = {name: Queue(f"{prefix}:{name}", connection=client, serializer=JSONSerializer) for name in (main, daraja)}
    try:
        assert services.job_routes == dict.fromkeys(PAYOUT_JOBS, daraja)
        for job in (*PAYOUT_JOBS, "settlements.run"):
            services.queue.enqueue(job, {})
        on = {name: sorted(j.args[0] for j in queue.get_jobs()) for name, queue in queues.items()}
        assert on == {main: ["settlements.run"], daraja: sorted(PAYOUT_JOBS)}
    finally:
        for queue in queues.values():
            queue.empty()
        services.close()


def test_the_rate_limiter_is_redis_when_configured_and_in_process_otherwise(tmp_path):
    """No in-memory fake in production: Redis shares the counts between API processes, else this process counts."""
    migrated_sqlite({"CRYPTOPAY_DATA_DIR": str(tmp_path)})  # both containers open this one file
    embedded = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path)}))
    shared = build(
        Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_REDIS_URL": "redis://127.0.0.1:9"})
    )
    assert isinstance(embedded.rate_limiter, ProcessRateLimiter)
    assert isinstance(shared.rate_limiter, RedisRateLimiter)
