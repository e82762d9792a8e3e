"""Issue 18, what integrators expect: a webhooks scope, a settlement by id, a token that works for a new merchant."""

from __future__ import annotations

import json

import jsonschema_rs
from cryptopay.core.mobile_money import normalize_msisdn
from cryptopay.core.testing.mobile_money import Scenario

from tests.integration.http_payments.payments_support import idem, key_headers


def test_an_api_key_with_the_webhooks_scope_reads_the_delivery_log_and_one_without_cannot(client, auth, shop):
    """webhooks:read lets a key list endpoints and deliveries; a key without it gets a 403."""
    reader = auth.api_key(shop.headers, shop.id, ["webhooks:read"])
    other = auth.api_key(shop.headers, shop.id, ["invoices:read"])
    for path in ("/v1/webhook-endpoints", "/v1/webhook-deliveries"):
        assert client.get(path, headers=key_headers(reader)).status_code == 200, path
        assert client.get(path, headers=key_headers(other)).status_code == 403, path


def test_a_settlement_is_read_by_id_and_hidden_from_other_tenants(client, stack, shop, rival):
    """GET /v1/settlements/{id} returns the merchant's settlement; another merchant gets the same 404 as a typo."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    run = client.post("/v1/settlements/run", json={}, headers=idem(shop.headers))
    settlement = run.json["runs"][0]["settlement"]
    read = client.get(f"/v1/settlements/{settlement['id']}", headers=shop.headers)
    assert read.status_code == 200 and read.json == settlement
    assert client.get(f"/v1/settlements/{settlement['id']}", headers=rival.headers).status_code == 404
    assert client.get("/v1/settlements/stl_missing", headers=shop.headers).status_code == 404


def test_the_callers_token_works_for_the_merchant_it_just_created(client, auth):
    """No second login: the token used to create the merchant profile acts for it at once."""
    headers = auth.user("merchant")
    created = client.post(
        "/v1/merchants",
        json={
            "business_name": "Duka",
            "settlement": {"schedule": "daily", "method": "mpesa_till", "destination": "123456"},
        },
        headers=headers,
    )
    assert created.status_code == 201
    store = client.put(f"/v1/merchants/{created.json['id']}/store", json={"rails": ["usdt-tron"]}, headers=headers)
    assert store.status_code == 200, store.json
    assert client.get("/v1/me", headers=headers).json["merchant_id"] == created.json["id"]


def test_the_openapi_document_has_an_event_catalogue_with_a_schema_per_event(client):
    """Every webhook event type (and the ping test event) is in the document's webhooks section; invoice events
    promise order_id and metadata."""
    from cryptopay.core.webhooks import PING_EVENT, WEBHOOK_EVENTS

    catalogue = client.get("/openapi.json").json["webhooks"]
    assert set(catalogue) == {*WEBHOOK_EVENTS, PING_EVENT}
    versions = catalogue["invoice.settled"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [body["title"] for body in versions] == ["payload version 1", "payload version 2"]
    for body in versions:
        assert body["properties"]["type"] == {"const": "invoice.settled"}
        assert {"order_id", "metadata"} <= set(body["properties"]["data"]["required"])


def test_every_event_sent_matches_its_schema_in_the_catalogue(client, auth, stack, hooks, shop):
    """The bodies actually delivered (invoice, payout completed and failed, settlement completed) validate against
    the catalogue's schema of their type in the endpoint's payload version (1 and 2), named by their header: the
    document describes what endpoints receive, every member required."""

    catalogue = client.get("/openapi.json").json["webhooks"]
    client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/hooks"}, headers=shop.stepped)
    v2 = {"url": "https://duka.example/hooks2", "payload_version": 2}
    assert client.post("/v1/webhook-endpoints", json=v2, headers=shop.stepped).json["endpoint"]["payload_version"] == 2
    scopes = ["invoices:write", "settlements:write", "settlements:read"]
    shop.headers = key_headers(auth.api_key(shop.headers, shop.id, scopes))  # a key outlives the day's login
    for scenario in (None, Scenario.INSUFFICIENT_FUNDS):
        if scenario is not None:
            stack.mpesa.set_scenario(normalize_msisdn("0712345678"), scenario)
            stack.clock.advance(days=1)
        stack.pay(shop.invoice()["id"])
        stack.confirm(3)
        run = client.post("/v1/settlements/run", json={}, headers=idem(shop.headers))
        assert run.status_code == 200, run.json
        stack.payouts.submit_payouts()
        stack.deliver_callbacks()
    hooks.relay()
    hooks.run_jobs()
    sent = [
        (s.url.endswith("hooks2"), s.headers["cryptopay-payload-version"], json.loads(s.body))
        for s in hooks.sender.sent
    ]
    kinds = {"invoice.created", "invoice.settled", "payout.completed", "payout.failed", "settlement.completed"}
    for version in (1, 2):
        bodies = [body for second, header, body in sent if second == (version == 2) and header == str(version)]
        assert kinds <= {body["type"] for body in bodies}
        assert len(bodies) == len(sent) // 2
        for body in bodies:
            schema = catalogue[body["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
            branch = schema["oneOf"][version - 1]
            errors = [e.message for e in jsonschema_rs.validator_for(branch).iter_errors(body)]
            assert errors == [], (version, body["type"], errors)
            assert jsonschema_rs.validator_for(schema).is_valid(body)  # exactly one branch
    (settlement,) = [b for second, _, b in sent if second and b["type"] == "settlement.completed"][:1]
    assert settlement["version"] == 2 and settlement["data"]["paid"]["asset"] == "KES"
    assert isinstance(settlement["data"]["payouts"], int) and "currency" not in settlement["data"]
    # R14-12: the v2 settlement ties to the API's settlement, and the v2 invoice.settled says what it was paid
    api = client.get(f"/v1/settlements/{settlement['data']['settlement_id']}", headers=shop.headers).json
    for key in ("credited", "fx_spread", "payout_charges", "remainder"):
        assert settlement["data"][key] == api[key], key
    listed = [(c["amount"], c["quote_id"], c["credited"]) for c in settlement["data"]["conversion_list"]]
    assert listed == [(c["converted"], c["quote_id"], c["credited"]) for c in api["conversions"]] and listed
    settled = [b for second, _, b in sent if b["type"] == "invoice.settled"]
    v2_settled = [b["data"] for b in settled if b.get("version") == 2]
    assert v2_settled and all(d["paid"]["asset"] == "KES" and d["received"] for d in v2_settled)
    assert all("paid" not in b["data"] and "received" not in b["data"] for b in settled if "version" not in b)
