"""Outbox -> RQ -> httpx -> a real HTTP receiver: signed deliveries, retries, dead letters, redelivery, crashes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from cryptopay.adapters.queue import RqQueue
from cryptopay.adapters.webhooks import HttpxWebhookSender
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.webhooks import deliveries_of, webhook_storage
from cryptopay.core.webhooks import DeliveryStatus, create_endpoint, redeliver_webhook, verify
from cryptopay_worker import WorkerServices, run_worker, use_services
from cryptopay_worker.jobs import OUTBOX_RELAY, WEBHOOK_SWEEP

from tests.support.queue_harness import cleanup_rq

pytestmark = pytest.mark.redis

SHORT = (timedelta(seconds=1), timedelta(seconds=1))  # two retries a second apart, then dead


class Setup:
    def __init__(self, redis_url: str, receiver_url: str, queue_name: str, sender=None, **options) -> None:
        self.storage = webhook_storage()
        self.connection = redis.Redis.from_url(redis_url)
        self.queue = RqQueue(self.connection, queue_name=queue_name, retries=(timedelta(0),))
        self.redis_url, self.clock, self.ids = redis_url, SystemClock(), RandomIds()
        self.services = WorkerServices(
            uow_factory=self.storage.unit_of_work,
            queue=self.queue,
            webhook_sender=sender or HttpxWebhookSender(timeout=3, allow_loopback=True),
            clock=self.clock,
            ids=self.ids,
            **options,
        )
        use_services(self.services)
        self.endpoint = create_endpoint(
            "m1",
            receiver_url,
            uow_factory=self.storage.unit_of_work,
            ids=self.ids,
            clock=self.clock,
            allow_insecure=True,
        )

    def emit(self, topic: str, **data: str) -> OutboxMessage:
        message = OutboxMessage.new(self.ids.new_id("out"), topic, {"merchant_id": "m1", **data}, at=self.clock.now())
        with self.storage.unit_of_work() as uow:
            uow.outbox.add(message)
        return message

    def work(self) -> None:
        run_worker(self.redis_url, self.queue.queue_names, burst=True, fork=False)

    def work_until(self, done, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the worker did not get there in time"
            self.work()
            time.sleep(0.2)

    def deliveries(self):
        return deliveries_of(self.storage).all()


@pytest.fixture
def setup_factory(redis_url: str, receiver) -> Iterator:
    token = f"wk{time.time_ns()}"
    made: list[Setup] = []

    def make(**options) -> Setup:
        made.append(Setup(redis_url, receiver.url, f"test-{token}", **options))
        return made[-1]

    yield make
    for setup in made:
        cleanup_rq(setup.connection, setup.queue.queue_names, token)


def test_the_outbox_relay_delivers_signed_webhooks_through_rq(setup_factory, receiver) -> None:
    """Two committed events reach the merchant's endpoint once each, with valid Standard Webhooks signatures."""
    setup = setup_factory()
    first, second = setup.emit("invoice.created", invoice_id="inv_1"), setup.emit("invoice.settled", invoice_id="inv_1")
    setup.queue.enqueue(OUTBOX_RELAY, {})
    setup.work()
    assert sorted(receiver.ids()) == sorted([first.id, second.id])
    for headers, body in receiver.hits:
        assert verify(setup.endpoint.secret, headers, body, now=datetime.now(UTC)) in (first.id, second.id)
        assert headers["content-type"] == "application/json" and headers["user-agent"].startswith("cryptopay")
    assert {d.status for d in setup.deliveries()} == {DeliveryStatus.DELIVERED}
    assert all(m.published_at for m in setup.storage.outbox_messages())


def test_a_failing_receiver_gets_retries_then_the_delivery_is_dead_and_can_be_redelivered(
    setup_factory, receiver
) -> None:
    """A receiver answering 500 is tried three times, the delivery dies; fixed and redelivered, it gets it."""
    setup = setup_factory(retry_schedule=SHORT)
    receiver.status = 500
    message = setup.emit("payout.failed", payout_id="po_1")
    setup.queue.enqueue(OUTBOX_RELAY, {})
    setup.work_until(lambda: setup.deliveries() and setup.deliveries()[0].status is DeliveryStatus.DEAD)
    (dead,) = setup.deliveries()
    assert receiver.ids() == [message.id] * 3 and dead.attempts == 3 and dead.last_error == "HTTP 500"
    attempts = deliveries_of(setup.storage).attempts(dead.id)
    assert [(a.number, a.status_code, a.response_snippet) for a in attempts] == [(n, 500, "") for n in (1, 2, 3)]
    receiver.status = 200
    redeliver_webhook(
        dead.id, merchant_id="m1", uow_factory=setup.storage.unit_of_work, queue=setup.queue, clock=setup.clock
    )
    setup.work()
    (delivered,) = setup.deliveries()
    assert delivered.status is DeliveryStatus.DELIVERED and receiver.ids() == [message.id] * 4
    assert receiver.hits[0][1] == receiver.hits[-1][1]  # the very same body, re-signed


class CrashAfterSending:
    """A sender whose process 'dies' (the job raises) right after the merchant received the webhook."""

    def __init__(self) -> None:
        self.inner, self.crashes = HttpxWebhookSender(timeout=3, allow_loopback=True), 1

    def send(self, url, headers, body):
        response = self.inner.send(url, headers, body)
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("worker died before recording the attempt")
        return response


def test_a_delivery_job_dying_mid_attempt_is_neither_lost_nor_doubled(setup_factory, receiver) -> None:
    """The crashed attempt's claim lapses, the sweep re-nudges it, and exactly one delivery ends delivered."""
    setup = setup_factory(sender=CrashAfterSending(), webhook_lease=timedelta(seconds=1), sweep_grace=timedelta(0))
    message = setup.emit("invoice.paid_partial", invoice_id="inv_9")
    setup.queue.enqueue(OUTBOX_RELAY, {})
    setup.work()  # the attempt crashes; RQ's retry finds the delivery still claimed and does nothing
    (claimed,) = setup.deliveries()
    assert claimed.status is DeliveryStatus.PENDING and claimed.locked_until is not None
    time.sleep(1.1)
    setup.queue.enqueue(WEBHOOK_SWEEP, {})
    setup.work()
    (delivered,) = setup.deliveries()
    assert delivered.status is DeliveryStatus.DELIVERED and len(setup.deliveries()) == 1
    assert set(receiver.ids()) == {message.id}  # at least once on the wire, one event id for the merchant to dedupe
    assert setup.queue.dead_jobs() == []


def test_an_unreachable_endpoint_is_an_attempt_with_an_error_not_a_job_failure(setup_factory, receiver) -> None:
    """Connection refused is logged on the delivery and retried by the schedule; the queue sees no failure."""
    setup = setup_factory(retry_schedule=SHORT)
    with setup.storage.unit_of_work() as uow:
        import attrs

        uow.webhook_endpoints.save(attrs.evolve(setup.endpoint, url="http://127.0.0.1:9/closed"))
    setup.emit("invoice.expired", invoice_id="inv_2")
    setup.queue.enqueue(OUTBOX_RELAY, {})
    setup.work_until(lambda: setup.deliveries() and setup.deliveries()[0].status is DeliveryStatus.DEAD)
    (dead,) = setup.deliveries()
    assert "could not reach http://127.0.0.1:9/closed" in (dead.last_error or "")
    assert setup.queue.dead_jobs() == []
