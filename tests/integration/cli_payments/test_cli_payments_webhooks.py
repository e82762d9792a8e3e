"""``cryptopay webhooks redeliver``: a delivered invoice event is queued again; bad ids and states are refused."""

from __future__ import annotations

import pytest
from cryptopay.core.testing.webhooks import RecordingSender, deliveries_of
from cryptopay.core.webhooks import DELIVER_JOB, create_endpoint, deliver_webhook, fan_out

from tests.integration.cli_payments.cli_payments_support import cli, cli_json, create_merchant


@pytest.fixture
def delivery(stack):
    """The merchant's `invoice.created` webhook, fanned out from the stack's outbox and delivered (HTTP 200)."""
    merchant_id = create_merchant()
    stack.invoicing.create_invoice(merchant_id, stack.kes("500"))
    create_endpoint(
        merchant_id, "https://duka.example/hooks", uow_factory=stack.webhooks_uow, ids=stack.ids, clock=stack.clock
    )
    (message,) = stack.outbox("invoice.created")
    with stack.webhooks_uow() as uow:
        (created,) = fan_out(uow, message, ids=stack.ids, now=stack.clock.now())
    delivered = deliver_webhook(
        created.id, uow_factory=stack.webhooks_uow, sender=RecordingSender(), queue=stack.queue, clock=stack.clock
    )
    assert delivered is not None and delivered.status.value == "delivered"
    return delivered


def test_cli_webhooks_redeliver_queues_the_same_event_again(stack, delivery):
    """`webhooks redeliver` makes the delivery pending now, with the same event id, and enqueues its delivery job."""
    view = cli_json("webhooks", "redeliver", delivery.id, "--merchant", delivery.merchant_id)
    assert view["status"] == "pending" and view["event_id"] == delivery.event_id
    assert view["event_type"] == "invoice.created"
    assert deliveries_of(stack.webhook_storage).get(delivery.id).status.value == "pending"
    assert [(j.job_name, j.payload) for j in stack.queue.pending] == [(DELIVER_JOB, {"delivery_id": delivery.id})]


def test_cli_webhooks_redeliver_refuses_unknown_other_merchants_and_pending_deliveries(stack, delivery):
    """An unknown delivery or another merchant's exits 3; one still pending exits 4; none of them is queued."""
    assert cli("webhooks", "redeliver", "whd_nope").exit_code == 3
    other = cli("webhooks", "redeliver", delivery.id, "--merchant", "mer_other")
    assert other.exit_code == 3 and f"no webhook delivery {delivery.id}" in other.stderr
    assert stack.queue.pending == []
    assert cli("webhooks", "redeliver", delivery.id).exit_code == 0
    pending = cli("webhooks", "redeliver", delivery.id)
    assert pending.exit_code == 4 and "still pending" in pending.stderr
    assert len(stack.queue.pending) == 1


def test_cli_webhooks_payload_version_sets_the_version_for_later_events_and_is_audited(stack, delivery):
    """`webhooks payload-version` sets 2 for the merchant's endpoint (audited by the operator); a bad version exits 2,
    another merchant's or an unknown endpoint 3, and nothing changes."""
    endpoint_id = delivery.endpoint_id
    assert cli("webhooks", "payload-version", endpoint_id, "3", "--merchant", delivery.merchant_id).exit_code == 2
    assert cli("webhooks", "payload-version", endpoint_id, "2", "--merchant", "mer_other").exit_code == 3
    assert cli("webhooks", "payload-version", "whe_nope", "2", "--merchant", delivery.merchant_id).exit_code == 3
    with stack.webhooks_uow() as uow:
        assert uow.webhook_endpoints.get(endpoint_id).payload_version == 1
    view = cli_json("webhooks", "payload-version", endpoint_id, "2", "--merchant", delivery.merchant_id)
    assert view == {"id": endpoint_id, "merchant_id": delivery.merchant_id, "payload_version": 2}
    with stack.webhooks_uow() as uow:
        assert uow.webhook_endpoints.get(endpoint_id).payload_version == 2
    assert deliveries_of(stack.webhook_storage).get(delivery.id).payload_version == 1  # a sent body stays as sent


def test_cli_webhooks_redeliver_is_audited_by_the_operator(stack, delivery):
    """reviewer10 R10-3: a redelivery re-sends a merchant's event and left no record, unlike ``payload-version``."""
    from cryptopay_cli.context import operator

    cli_json("webhooks", "redeliver", delivery.id)
    (record,) = [r for r in stack.audit_trail.records() if r.action == "webhook_delivery.redelivered"]
    assert (record.actor, record.subject) == (operator(), f"webhook_delivery:{delivery.id}")
    assert dict(record.details) == {
        "merchant": delivery.merchant_id,
        "event": delivery.event_id,
        "event_type": "invoice.created",
    }
