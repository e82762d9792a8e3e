"""Updating a webhook endpoint, rotating its secret with an overlap, and sending it a test event, over HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from cryptopay.core.webhooks import InvalidSignature, verify

from tests.integration.http_payments.payments_support import key_headers


def _endpoint(client, shop, **body) -> tuple[str, str]:
    body = {"url": "https://duka.example/hooks", "events": ["invoice.created"], **body}
    created = client.post("/v1/webhook-endpoints", json=body, headers=shop.stepped)
    assert created.status_code == 201, created.json
    return created.json["endpoint"]["id"], created.json["secret"]


def _last_sent(hooks):
    sent = hooks.sender.sent[-1]
    return sent, {k.lower(): v for k, v in sent.headers.items()}


def test_patch_changes_url_events_and_description_and_is_audited(client, hooks, services, shop):
    """A stepped-up PATCH changes the URL, events and description; later events go to the new URL; it is audited."""
    endpoint_id, _ = _endpoint(client, shop)
    body = {"url": "https://new.duka.example/h", "events": [], "description": "all events"}
    changed = client.patch(f"/v1/webhook-endpoints/{endpoint_id}", json=body, headers=shop.stepped)
    assert changed.status_code == 200, changed.json
    assert (changed.json["url"], changed.json["events"], changed.json["description"]) == (
        "https://new.duka.example/h",
        [],
        "all events",
    )
    partial = client.patch(f"/v1/webhook-endpoints/{endpoint_id}", json={"description": "x"}, headers=shop.stepped)
    assert partial.json["url"] == "https://new.duka.example/h" and partial.json["description"] == "x"
    shop.invoice()
    hooks.relay()
    hooks.run_jobs()
    assert hooks.sender.sent[-1].url == "https://new.duka.example/h"
    subject = f"webhook_endpoint:{endpoint_id}"
    actions = [r.action for r in services.audit.records() if r.subject == subject]
    assert actions.count("webhook_endpoint.updated") == 2


def test_patch_refuses_bad_input_without_changing_anything(client, shop):
    """A bad URL (as strict as creation), an unknown event or an unknown field is a 422 problem; nothing changes."""
    endpoint_id, _ = _endpoint(client, shop)
    for body in (
        {"url": "https://10.0.0.7/hooks"},
        {"url": "https://duka.example:99999/h"},
        {"url": "https://duka.example/a b"},
        {"events": ["invoice.paid_twice"]},
        {"events": ["ping"]},
        {"secret": "whsec_x"},
    ):
        response = client.patch(f"/v1/webhook-endpoints/{endpoint_id}", json=body, headers=shop.stepped)
        assert response.status_code == 422 and response.content_type == "application/problem+json", body
    current = client.get(f"/v1/webhook-endpoints/{endpoint_id}", headers=shop.headers).json
    assert (current["url"], current["events"]) == ("https://duka.example/hooks", ["invoice.created"])


def test_patch_and_rotation_need_a_step_up_and_the_own_tenant(client, auth, shop, rival):
    """Without a step-up PATCH and rotation are 403; another merchant's endpoint is 404; a key cannot step up."""
    endpoint_id, _ = _endpoint(client, shop)
    for path in (f"/v1/webhook-endpoints/{endpoint_id}", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"):
        method = client.patch if path.endswith(endpoint_id) else client.post
        assert method(path, json={}, headers=shop.headers).status_code == 403
        assert method(path, json={}, headers=rival.stepped).status_code == 404
    key = key_headers(auth.api_key(shop.headers, shop.id, ["webhooks:write"]))
    assert client.patch(f"/v1/webhook-endpoints/{endpoint_id}", json={}, headers=key).status_code == 403
    reader = key_headers(auth.api_key(shop.headers, shop.id, ["webhooks:read"]))
    refused = client.post(f"/v1/webhook-endpoints/{endpoint_id}/test", headers=reader)
    assert refused.status_code == 403 and "webhooks:write" in refused.json["detail"]
    assert client.post(f"/v1/webhook-endpoints/{endpoint_id}/test", headers=key).status_code == 202


def test_patch_enabled_false_deletes_the_endpoint(client, shop):
    """``enabled: false`` disables the endpoint: it leaves the list like a deleted one."""
    endpoint_id, _ = _endpoint(client, shop)
    off = client.patch(f"/v1/webhook-endpoints/{endpoint_id}", json={"enabled": False}, headers=shop.stepped)
    assert off.status_code == 200
    assert client.get(f"/v1/webhook-endpoints/{endpoint_id}", headers=shop.headers).status_code == 404


def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new_one(client, hooks, services, shop):
    """After an audited rotation each delivery carries the new and the old signature; after the overlap only the new
    one."""
    endpoint_id, old = _endpoint(client, shop)
    rotated = client.post(
        f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret", json={"overlap_seconds": 60}, headers=shop.stepped
    )
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    new = rotated.json["secret"]
    assert new.startswith("whsec_") and new != old and rotated.json["previous_secret_expires_at"]
    listing = client.get("/v1/webhook-endpoints", headers=shop.headers).get_data(as_text=True)
    assert new not in listing and old not in listing
    (audited,) = [r for r in services.audit.records() if r.action == "webhook_endpoint.secret_rotated"]
    assert (
        audited.subject == f"webhook_endpoint:{endpoint_id}" and new not in repr(audited) and old not in repr(audited)
    )

    shop.invoice()
    hooks.relay()
    hooks.run_jobs()
    sent, headers = _last_sent(hooks)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(new, headers, sent.body, now=hooks.clock.now())
    verify(old, headers, sent.body, now=hooks.clock.now())
    first, second = headers["webhook-signature"].split(" ")
    verify(new, {**headers, "webhook-signature": first}, sent.body, now=hooks.clock.now())  # the new one first
    verify(old, {**headers, "webhook-signature": second}, sent.body, now=hooks.clock.now())

    hooks.clock.advance(seconds=60)
    shop.invoice()
    hooks.relay()
    hooks.run_jobs()
    sent, headers = _last_sent(hooks)
    assert len(headers["webhook-signature"].split(" ")) == 1
    verify(new, headers, sent.body, now=hooks.clock.now())
    with pytest.raises(InvalidSignature):
        verify(old, headers, sent.body, now=hooks.clock.now())


def test_rotation_overlap_defaults_to_a_day_and_is_bounded(client, hooks, shop):
    """Without a body the overlap is 24 hours; a negative or over-a-week overlap is a 422 and rotates nothing."""
    endpoint_id, old = _endpoint(client, shop)
    path = f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"
    for overlap in (-1, 7 * 24 * 3600 + 1, "60"):
        refused = client.post(path, json={"overlap_seconds": overlap}, headers=shop.stepped)
        assert refused.status_code == 422 and refused.content_type == "application/problem+json", overlap
    client.post(f"/v1/webhook-endpoints/{endpoint_id}/test", headers=shop.headers)
    hooks.run_jobs()
    sent, headers = _last_sent(hooks)
    verify(old, headers, sent.body, now=hooks.clock.now())  # the secret is still the original one
    rotated = client.post(path, headers=shop.stepped)
    assert rotated.status_code == 200, rotated.json
    until = datetime.fromisoformat(rotated.json["previous_secret_expires_at"])
    assert until - hooks.clock.now() == timedelta(hours=24)


def test_a_test_event_is_a_signed_ping_in_the_delivery_log(client, hooks, shop, rival):
    """POST .../test queues a ping to that endpoint alone; it is signed, sent by the worker and logged."""
    endpoint_id, secret = _endpoint(client, shop)
    _endpoint(client, shop, url="https://other.duka.example/h")
    assert client.post(f"/v1/webhook-endpoints/{endpoint_id}/test", headers=rival.headers).status_code == 404
    queued = client.post(f"/v1/webhook-endpoints/{endpoint_id}/test", headers=shop.headers)
    assert queued.status_code == 202 and queued.json["event_type"] == "ping" and queued.json["status"] == "pending"
    assert hooks.run_jobs() == 1
    sent, headers = _last_sent(hooks)
    assert sent.url == "https://duka.example/hooks" and len(hooks.sender.sent) == 1
    verify(secret, headers, sent.body, now=hooks.clock.now())
    assert json.loads(sent.body)["type"] == "ping"
    log = client.get(f"/v1/webhook-deliveries?endpoint_id={endpoint_id}", headers=shop.headers).json["data"]
    assert [(d["id"], d["event_type"], d["status"]) for d in log] == [(queued.json["id"], "ping", "delivered")]


def test_test_pings_are_limited_per_merchant_and_audited(client, auth, services, shop, rival):
    """Review G12: 40 pings in 2 s were all 202. Now 5 per merchant per minute, whichever login or key asks (a 429
    problem with Retry-After beyond), another merchant unaffected, each ping audited; the window passes."""
    endpoint_id, _ = _endpoint(client, shop)
    path = f"/v1/webhook-endpoints/{endpoint_id}/test"
    key = key_headers(auth.api_key(shop.headers, shop.id, ["webhooks:write"]))
    answers = [client.post(path, headers=shop.headers if n % 2 else key).status_code for n in range(5)]
    assert answers == [202] * 5
    for headers in (shop.headers, key):
        refused = client.post(path, headers=headers)
        assert refused.status_code == 429 and refused.content_type == "application/problem+json"
        assert refused.json["code"] == "rate_limited" and 0 < int(refused.headers["Retry-After"]) <= 60
    other, _ = _endpoint(client, rival, url="https://rival.example/h")
    assert client.post(f"/v1/webhook-endpoints/{other}/test", headers=rival.headers).status_code == 202
    tested = [r for r in services.audit.records() if r.action == "webhook_endpoint.tested"]
    assert [r.subject for r in tested].count(f"webhook_endpoint:{endpoint_id}") == 5
    services.clock.advance(seconds=61)
    assert client.post(path, headers=shop.headers).status_code == 202


def test_a_failing_ping_is_tried_once_and_its_redelivery_counts_as_a_ping(client, hooks, shop):
    """A ping whose endpoint fails is dead after its one attempt (no three days of retries); sending it again by
    hand counts against the pings' limit."""
    endpoint_id, _ = _endpoint(client, shop)
    hooks.answer = 500
    queued = client.post(f"/v1/webhook-endpoints/{endpoint_id}/test", headers=shop.headers).json
    hooks.run_jobs()
    detail = client.get(f"/v1/webhook-deliveries/{queued['id']}", headers=shop.headers).json
    assert detail["delivery"]["status"] == "dead" and len(detail["attempts"]) == 1, detail
    redeliver = f"/v1/webhook-deliveries/{queued['id']}/redeliver"
    answers = []
    for _ in range(5):
        answers.append(client.post(redeliver, headers=shop.headers).status_code)
        hooks.run_jobs()
    assert answers == [202, 202, 202, 202, 429] and len(hooks.sender.sent) == 5
    hooks.clock.advance(days=4)  # the whole retry schedule of another event
    hooks.run_jobs()
    assert len(hooks.sender.sent) == 5
