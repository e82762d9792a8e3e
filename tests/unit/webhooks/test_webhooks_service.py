"""Webhook use cases and the outbox relay, over the in-memory store, the fake queue and a recording sender."""

from __future__ import annotations

import json
from datetime import timedelta

import attrs
import pytest
from cryptopay.core.errors import InvalidInput, NotFound, Unavailable
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.queue import EnqueuedJob, JobRegistry
from cryptopay.core.relay import RELAY_JOB, relay_outbox
from cryptopay.core.testing.queue import FakeQueue
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.testing.webhooks import RecordingSender, deliveries_of, webhook_storage
from cryptopay.core.webhooks import (
    DELIVER_JOB,
    RETRY_SCHEDULE,
    DeliveryStatus,
    DuplicateEndpoint,
    EndpointChanges,
    create_endpoint,
    deliver_webhook,
    redeliver_webhook,
    rotate_secret,
    send_test_event,
    sweep_webhooks,
    update_endpoint,
    verify,
)
from cryptopay.core.webhooks.service import attempt_duration


class World:
    """The fakes wired together the way the worker wires the real adapters."""

    def __init__(self, answer=lambda url: 200) -> None:
        self.clock, self.ids, self.store = ManualClock(), SequentialIds(), webhook_storage()
        self.sender = RecordingSender(answer)
        self.registry = JobRegistry()
        self.queue = FakeQueue(self.registry, self.clock)
        self.registry.register(DELIVER_JOB, lambda p: deliver_webhook(str(p["delivery_id"]), **self.ports(sender=True)))
        self.registry.register(RELAY_JOB, lambda p: relay_outbox(**self.ports(), ids=self.ids))

    def ports(self, sender: bool = False) -> dict:
        ports = {"uow_factory": self.store.unit_of_work, "queue": self.queue, "clock": self.clock}
        return {**ports, "sender": self.sender} if sender else ports

    def endpoint(self, merchant: str = "m1", events=(), url: str = "https://shop.example/hook"):
        return create_endpoint(
            merchant, url, events=events, ids=self.ids, uow_factory=self.store.unit_of_work, clock=self.clock
        )

    def emit(self, topic: str, merchant: str = "m1", **data: str) -> OutboxMessage:
        message = OutboxMessage.new(
            self.ids.new_id("out"), topic, {"merchant_id": merchant, **data}, at=self.clock.now()
        )
        with self.store.unit_of_work() as uow:
            uow.outbox.add(message)
        return message

    def run_for(self, duration: timedelta, step: timedelta = timedelta(minutes=1)) -> None:
        """Let time pass, running due jobs as a worker would."""
        end = self.clock.now() + duration
        while self.clock.now() < end:
            self.queue.run_pending()
            self.clock.advance(seconds=step.total_seconds())
        self.queue.run_pending()


def test_an_event_reaches_each_subscribed_endpoint_signed_once() -> None:
    """A committed outbox event becomes one signed POST per endpoint that wants it, and nothing else."""
    world = World()
    wanted = world.endpoint(events=["invoice.settled"])
    world.endpoint(events=["invoice.expired"], url="https://shop.example/expired")
    other_merchant = world.endpoint(merchant="m2")
    message = world.emit("invoice.settled", invoice_id="inv_1", amount="100.000000")
    world.queue.enqueue(RELAY_JOB, {})
    world.queue.run_pending()
    assert [sent.url for sent in world.sender.sent] == [wanted.url]
    sent = world.sender.sent[0]
    assert verify(wanted.secret, sent.headers, sent.body, now=world.clock.now()) == message.id
    assert json.loads(sent.body) == {
        "type": "invoice.settled",
        "timestamp": message.created_at.isoformat(),
        "data": {"merchant_id": "m1", "invoice_id": "inv_1", "amount": "100.000000"},
    }
    assert other_merchant.url == wanted.url  # same URL, different merchant: still not sent twice
    (delivery,) = deliveries_of(world.store).all()
    assert delivery.status is DeliveryStatus.DELIVERED and world.store.outbox_messages()[0].published_at


def test_a_failing_endpoint_is_retried_on_schedule_then_dead_lettered() -> None:
    """An endpoint answering 500 gets every scheduled retry over about three days, then the delivery is dead."""
    world = World(answer=lambda url: 500)
    world.endpoint()
    world.emit("invoice.expired", invoice_id="inv_1")
    world.queue.enqueue(RELAY_JOB, {})
    world.run_for(sum(RETRY_SCHEDULE, timedelta(0)) + timedelta(hours=1), step=timedelta(seconds=5))
    (delivery,) = deliveries_of(world.store).all()
    assert delivery.status is DeliveryStatus.DEAD
    assert len(world.sender.sent) == len(RETRY_SCHEDULE) + 1 == delivery.attempts
    log = deliveries_of(world.store).all_attempts()
    assert [a.number for a in log] == list(range(1, len(RETRY_SCHEDULE) + 2))
    assert all(a.status_code == 500 and not a.ok for a in log)
    assert not world.queue.dead  # the use case dead-letters the delivery; no job failed


def test_an_unreachable_endpoint_is_logged_with_the_error_and_retried() -> None:
    """No answer at all is a failed attempt whose log row carries the error, then a retry."""
    world = World(answer=RecordingSender.unreachable)
    world.endpoint()
    world.emit("payout.failed", payout_id="po_1")
    world.queue.enqueue(RELAY_JOB, {})
    world.queue.run_pending()
    (attempt,) = deliveries_of(world.store).all_attempts()
    assert attempt.status_code is None and "connection refused" in (attempt.error or "")
    (delivery,) = deliveries_of(world.store).all()
    assert delivery.status is DeliveryStatus.RETRYING


def test_duplicate_and_premature_jobs_do_not_send_twice() -> None:
    """Running the delivery job again, or before the retry time, sends nothing more."""
    world = World(answer=lambda url: 503)
    world.endpoint()
    world.emit("invoice.created", invoice_id="inv_1")
    relay_outbox(**world.ports(), ids=world.ids)
    (delivery,) = deliveries_of(world.store).all()
    deliver_webhook(delivery.id, **world.ports(sender=True))
    assert deliver_webhook(delivery.id, **world.ports(sender=True)) is None  # retry is 5 s away
    world.queue.run_pending()  # the relay's nudge for attempt 0 is a duplicate now
    assert len(world.sender.sent) == 1


def test_redelivery_sends_the_same_event_again_with_a_fresh_schedule() -> None:
    """A dead delivery redelivered by hand goes out again with the same webhook-id and body."""
    world = World(answer=lambda url: 500)
    world.endpoint()
    world.emit("settlement.completed", settlement_id="set_1")
    world.queue.enqueue(RELAY_JOB, {})
    world.run_for(timedelta(days=4), step=timedelta(minutes=30))
    (dead,) = deliveries_of(world.store).all()
    assert dead.status is DeliveryStatus.DEAD
    world.sender._answer = lambda url: 200
    again = redeliver_webhook(dead.id, merchant_id="m1", **world.ports())
    assert again.status is DeliveryStatus.PENDING
    world.queue.run_pending()
    (delivered,) = deliveries_of(world.store).all()
    assert delivered.status is DeliveryStatus.DELIVERED
    first, last = world.sender.sent[0], world.sender.sent[-1]
    assert first.body == last.body and first.headers["webhook-id"] == last.headers["webhook-id"]
    with pytest.raises(NotFound):
        redeliver_webhook(dead.id, merchant_id="m2", **world.ports())  # another merchant's delivery is invisible


def test_the_sweep_recovers_a_delivery_whose_job_was_lost() -> None:
    """A delivery whose nudge never reached the queue is found by the sweep and delivered."""
    world = World()
    world.endpoint()
    world.emit("invoice.paid_late", invoice_id="inv_1")
    relay_outbox(**world.ports(), ids=world.ids)
    world.queue.pending.clear()  # the worker died right after the relay committed
    world.clock.advance(minutes=2)
    assert sweep_webhooks(**world.ports()) == 1
    world.queue.run_pending()
    assert [d.status for d in deliveries_of(world.store).all()] == [DeliveryStatus.DELIVERED]
    assert sweep_webhooks(**world.ports()) == 0


def test_a_disabled_endpoint_abandons_its_waiting_deliveries() -> None:
    """Disabling an endpoint dead-letters its deliveries at their next attempt without sending."""
    world = World(answer=lambda url: 500)
    endpoint = world.endpoint()
    world.emit("invoice.settled", invoice_id="inv_1")
    world.queue.enqueue(RELAY_JOB, {})
    world.queue.run_pending()
    with world.store.unit_of_work() as uow:
        uow.webhook_endpoints.save(attrs.evolve(endpoint, enabled=False))
    world.run_for(timedelta(minutes=1))
    (delivery,) = deliveries_of(world.store).all()
    assert delivery.status is DeliveryStatus.DEAD and "disabled" in (delivery.last_error or "")
    assert len(world.sender.sent) == 1


def test_the_relay_routes_topics_to_jobs_once_per_message() -> None:
    """A routed topic becomes one job keyed by the message id, even if the relay's commit is retried."""
    world = World()
    ran: list[dict] = []
    world.registry.register("payouts.start", ran.append)
    message = world.emit("payout.requested", payout_id="po_1")
    routes = {"payout.requested": "payouts.start"}
    world.queue.enqueue(
        "payouts.start", {"event_id": message.id, "topic": "x", "data": {}}, job_id=f"outbox-{message.id}"
    )
    report = relay_outbox(
        **world.ports(), ids=world.ids, routes=routes
    )  # a relay that died before committing ran first
    world.queue.run_pending()
    assert report.published == 1 and report.routed == 1 and len(ran) == 1
    assert relay_outbox(**world.ports(), ids=world.ids, routes=routes).published == 0


class DownQueue(FakeQueue):
    def enqueue(self, job_name, payload, *, job_id=None, delay=None) -> EnqueuedJob:
        raise Unavailable("redis is down")


def test_the_relay_keeps_a_message_for_later_when_the_queue_is_down() -> None:
    """A routed message the queue cannot take now stays unpublished and is retried after a pause."""
    world = World()
    world.emit("payout.requested", payout_id="po_1")
    report = relay_outbox(
        **{**world.ports(), "queue": DownQueue(world.registry, world.clock)},
        ids=world.ids,
        routes={"payout.requested": "payouts.start"},
    )
    (message,) = world.store.outbox_messages()
    assert report.failed == 1 and message.published_at is None and message.last_error == "redis is down"
    assert not message.is_due(world.clock.now()) and message.is_due(world.clock.now() + timedelta(seconds=30))


def test_the_relay_parks_a_message_the_queue_refuses_for_good() -> None:
    """A routed message whose payload holds a float is parked with the reason and does not block the rest."""
    world = World()
    world.endpoint()
    with world.store.unit_of_work() as uow:
        uow.outbox.add(OutboxMessage.new("out_bad", "payout.requested", {"amount": 1.5}, at=world.clock.now()))
    world.emit("invoice.settled", invoice_id="inv_1")
    report = relay_outbox(**world.ports(), ids=world.ids, routes={"payout.requested": "payouts.start"})
    assert (report.published, report.failed) == (1, 1)
    bad = next(m for m in world.store.outbox_messages() if m.id == "out_bad")
    assert "parked" in (bad.last_error or "") and "float" in (bad.last_error or "")


def test_create_endpoint_validates_and_keeps_a_fresh_secret() -> None:
    """A new endpoint has its own whsec_ secret; a bad URL or event changes nothing."""
    world = World()
    first, second = world.endpoint(), world.endpoint(url="https://shop.example/second")
    assert first.secret.startswith("whsec_") and first.secret != second.secret
    with pytest.raises(DuplicateEndpoint):  # reviewer9 R9-6: one merchant, one endpoint per URL
        world.endpoint()
    with pytest.raises(InvalidInput):
        world.endpoint(url="http://shop.example/hook")
    with pytest.raises(InvalidInput):
        world.endpoint(events=["invoice.paid"])
    with world.store.unit_of_work() as uow:
        assert len(uow.webhook_endpoints.for_merchant("m1")) == 2


def test_an_update_is_checked_like_a_creation_and_changes_nothing_when_refused() -> None:
    """A private URL or unknown event is refused before anything is written; another merchant's id is NotFound."""
    world = World()
    endpoint = world.endpoint(events=["invoice.settled"])
    uow = world.store.unit_of_work
    for changes in (EndpointChanges(url="https://192.168.1.2/h"), EndpointChanges(events=["invoice.lost"])):
        with pytest.raises(InvalidInput):
            update_endpoint(endpoint.id, "m1", changes, uow_factory=uow)
    with pytest.raises(NotFound):
        update_endpoint(endpoint.id, "m2", EndpointChanges(description="x"), uow_factory=uow)
    with world.store.unit_of_work() as unit:
        assert unit.webhook_endpoints.get(endpoint.id) == endpoint
    disabled = update_endpoint(endpoint.id, "m1", EndpointChanges(enabled=False), uow_factory=uow)
    assert not disabled.enabled and disabled.secret == endpoint.secret


def test_a_rotation_signs_with_both_secrets_until_the_overlap_ends() -> None:
    """During the overlap a delivery carries the new then the old signature; afterwards only the new one."""
    world = World()
    endpoint = world.endpoint()
    overlap = timedelta(hours=1)
    rotated = rotate_secret(endpoint.id, "m1", uow_factory=world.store.unit_of_work, clock=world.clock, overlap=overlap)
    assert rotated.previous_secret == endpoint.secret and rotated.secret != endpoint.secret
    with pytest.raises(InvalidInput):
        rotate_secret(endpoint.id, "m1", uow_factory=world.store.unit_of_work, clock=world.clock, overlap=-overlap)

    def ping_signatures() -> list[str]:
        ports = {"uow_factory": world.store.unit_of_work, "queue": world.queue, "clock": world.clock}
        send_test_event(endpoint.id, "m1", ids=world.ids, **ports)
        world.queue.run_pending()
        return world.sender.sent[-1].headers["webhook-signature"].split(" ")

    during = ping_signatures()
    world.clock.advance(seconds=overlap.total_seconds())
    after = ping_signatures()
    sent = world.sender.sent[-1]
    assert len(during) == 2 and len(after) == 1
    verify(rotated.secret, sent.headers, sent.body, now=world.clock.now())
    with pytest.raises(InvalidInput):
        verify(endpoint.secret, sent.headers, sent.body, now=world.clock.now())


@pytest.mark.parametrize(("elapsed", "answered", "shown"), [(75, False, 0), (1999, False, 1000), (75, True, 75)])
def test_a_failed_attempt_s_time_is_shown_in_whole_seconds(elapsed: int, answered: bool, shown: int) -> None:
    """review R17: sub-second timing of a failure tells open, closed and filtered ports apart; an answer's stays."""
    assert attempt_duration(elapsed, answered=answered) == shown
