"""Issue 18 #5: every job the RQ worker runs also runs on the embedded inline queue; redelivery works embedded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Services, build, ready
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.relay import RELAY_JOB
from cryptopay.core.webhooks import DeliveryStatus
from cryptopay_worker import WorkerServices, build_registry

from tests.integration.http.http_support import AuthActions, fast_hasher, make_app
from tests.support.sql_backends import migrated_sqlite


def _container(tmp_path: Path, **env: str) -> Services:
    settings = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK": "1", **env}
    migrated_sqlite(settings)
    return build(RootSettings.from_env(settings))


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Services]:
    container = _container(tmp_path)
    yield container
    container.close()


@pytest.mark.parametrize("redis", [False, True])
def test_the_inline_queue_knows_every_job_the_worker_runs(tmp_path, redis_url, redis):
    """With or without Redis, the container's registry holds every job name the RQ worker registers."""
    container = _container(tmp_path, **({"CRYPTOPAY_REDIS_URL": redis_url} if redis else {}))
    try:
        worker = build_registry(WorkerServices.of(container))
        inline = container.job_registry
        assert worker.names() <= inline.names()
        for name in worker.names():
            assert inline.get(name) is worker.get(name), name
    finally:
        container.close()


def test_redelivery_is_delivered_in_the_embedded_setup(embedded, receiver):
    """POST .../redeliver on the inline queue sends the delivery again instead of leaving it pending."""
    app = make_app(attrs.evolve(embedded, password_hasher=ready(fast_hasher())))
    client = app.test_client()
    auth = AuthActions(app, client)
    headers, merchant_id = auth.merchant()
    headers = auth.stepped_up(headers)  # webhook endpoints need a step-up
    created = client.post("/v1/webhook-endpoints", json={"url": receiver.url}, headers=headers)
    assert created.status_code == 201, created.json
    message = OutboxMessage.new("out_1", "invoice.created", {"merchant_id": merchant_id}, at=embedded.clock.now())
    with embedded.webhooks_uow() as uow:
        uow.outbox.add(message)
    embedded.queue.enqueue(RELAY_JOB, {})
    assert embedded.queue.drain()
    (delivery,) = client.get("/v1/webhook-deliveries", headers=headers).json["data"]
    assert delivery["status"] == DeliveryStatus.DELIVERED.value and len(receiver.hits) == 1
    again = client.post(f"/v1/webhook-deliveries/{delivery['id']}/redeliver", headers=headers)
    assert again.status_code == 202
    assert embedded.queue.drain()
    assert len(receiver.hits) == 2
    detail = client.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=headers).json
    assert detail["delivery"]["status"] == DeliveryStatus.DELIVERED.value
