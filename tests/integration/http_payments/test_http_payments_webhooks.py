"""Webhook endpoints, the delivery log and redelivery over HTTP, with deliveries signed and sent by the core."""

from __future__ import annotations

from cryptopay.core.webhooks import verify


def _endpoint(client, shop, **body):
    created = client.post(
        "/v1/webhook-endpoints", json={"url": "https://duka.example/hooks", **body}, headers=shop.stepped
    )
    assert created.status_code == 201, created.json
    return created


def test_an_endpoint_secret_is_shown_once_and_signs_the_deliveries(client, hooks, shop):
    """The whsec_ secret appears only at creation; deliveries to the endpoint verify with it."""
    created = _endpoint(client, shop, events=["invoice.created"], description="shop")
    secret, endpoint = created.json["secret"], created.json["endpoint"]
    assert secret.startswith("whsec_") and created.headers["Cache-Control"] == "no-store"
    listing = client.get("/v1/webhook-endpoints", headers=shop.headers)
    assert [e["id"] for e in listing.json["data"]] == [endpoint["id"]] and secret not in listing.get_data(as_text=True)
    assert client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=shop.headers).json["events"] == [
        "invoice.created"
    ]
    shop.invoice()
    assert len(hooks.relay()) == 1 and hooks.run_jobs() == 1
    (sent,) = hooks.sender.sent
    headers = {k.lower(): v for k, v in sent.headers.items()}
    verify(secret, headers, sent.body, now=hooks.clock.now())


def test_deleting_an_endpoint_hides_it_and_stops_its_events(client, hooks, shop):
    """A deleted endpoint is gone from the list (404 on read) and receives no new events."""
    endpoint_id = _endpoint(client, shop).json["endpoint"]["id"]
    assert client.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=shop.stepped).status_code == 204
    assert client.get("/v1/webhook-endpoints", headers=shop.headers).json["data"] == []
    assert client.get(f"/v1/webhook-endpoints/{endpoint_id}", headers=shop.headers).status_code == 404
    assert client.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=shop.stepped).status_code == 404
    shop.invoice()
    assert hooks.relay() == []


def test_bad_endpoints_are_refused_with_problems(client, shop):
    """A plain-http or private URL, or an unknown event, is a 422 problem and creates nothing."""
    for body in (
        {"url": "http://duka.example/hooks"},
        {"url": "https://10.0.0.7/hooks"},
        {"url": "https://duka.example/hooks", "events": ["invoice.paid_twice"]},
    ):
        response = client.post("/v1/webhook-endpoints", json=body, headers=shop.stepped)
        assert response.status_code == 422 and response.content_type == "application/problem+json", body
    assert client.get("/v1/webhook-endpoints", headers=shop.headers).json["data"] == []


def test_the_delivery_log_shows_attempts_and_a_dead_delivery_can_be_redelivered(client, hooks, shop):
    """A failing endpoint's attempts show in the log; redelivering a final delivery sends the same event again."""
    _endpoint(client, shop, events=["invoice.created"])
    hooks.answer = 500
    shop.invoice()
    (delivery_id,) = hooks.relay()
    hooks.run_jobs()
    log = client.get("/v1/webhook-deliveries?status=retrying", headers=shop.headers).json["data"]
    assert [(d["id"], d["attempts"], d["last_status_code"]) for d in log] == [(delivery_id, 1, 500)]
    early = client.post(f"/v1/webhook-deliveries/{delivery_id}/redeliver", headers=shop.headers)
    assert early.status_code == 409 and early.content_type == "application/problem+json"

    hooks.answer = 204
    hooks.clock.advance(seconds=5)
    hooks.run_jobs()
    detail = client.get(f"/v1/webhook-deliveries/{delivery_id}", headers=shop.headers).json
    assert detail["delivery"]["status"] == "delivered"
    assert [a["status_code"] for a in detail["attempts"]] == [500, 204] and '"invoice.created"' in detail["body"]

    again = client.post(f"/v1/webhook-deliveries/{delivery_id}/redeliver", headers=shop.headers)
    assert again.status_code == 202 and again.json["status"] == "pending"
    hooks.run_jobs()
    first, _, last = hooks.sender.sent
    assert first.headers["webhook-id"] == last.headers["webhook-id"] and first.body == last.body
    assert client.get(f"/v1/webhook-deliveries/{delivery_id}", headers=shop.headers).json["delivery"]["attempts"] == 3


def test_the_delivery_log_pages_newest_first(client, hooks, shop):
    """The log is paginated by cursor, newest first, and filters by endpoint."""
    endpoint_id = _endpoint(client, shop, events=["invoice.created"]).json["endpoint"]["id"]
    for _ in range(3):
        shop.invoice()
    created = hooks.relay()
    first = client.get(f"/v1/webhook-deliveries?limit=2&endpoint_id={endpoint_id}", headers=shop.headers).json
    rest = client.get(f"/v1/webhook-deliveries?limit=2&cursor={first['next_cursor']}", headers=shop.headers).json
    assert [d["id"] for d in first["data"] + rest["data"]] == list(reversed(created)) and rest["next_cursor"] is None
    bad = client.get("/v1/webhook-deliveries?status=lost", headers=shop.headers)
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "status"


def test_a_merchant_past_its_endpoint_cap_gets_422_and_nothing_is_stored(client, services, shop):
    """At the cap (ten by default), another endpoint is refused with a problem+json 422 and the list keeps ten."""
    assert services.webhook_max_endpoints == 10
    stepped = shop.stepped  # one step-up serves every request below

    def create(n: int):
        return client.post("/v1/webhook-endpoints", json={"url": f"https://hooks{n}.duka.co.ke/h"}, headers=stepped)

    assert [create(n).status_code for n in range(10)] == [201] * 10
    refused = create(10)
    assert refused.status_code == 422 and "at most 10" in refused.json["detail"]
    listing = client.get("/v1/webhook-endpoints", headers={**shop.headers}, query_string={"limit": 50})
    assert len(listing.json["data"]) == 10
