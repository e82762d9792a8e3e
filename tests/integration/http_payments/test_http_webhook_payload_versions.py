"""Webhook payload versions (review5 S8): v1 flat strings as before, v2 the API's money objects and numbers, over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema_rs
import pytest
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.webhooks import PING_EVENT, WEBHOOK_EVENTS, event_body, v2_only_fields

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
_INVOICE = {"merchant_id": "m1", "invoice_id": "inv_1", "at": AT.isoformat(), "order_id": "o-1", "metadata": {}}
_STATE = {"state": "settled", "exception": "none"}
_WRONG = {  # core.payments.wrong_network.wrong_network_event
    "wrong_network_payment_id": "wnp_1",
    "wrong_network_state": "held",
    "network": "ethereum",
    "tx_hash": "0xabc",
    "index": "3",
    "rail": "usdt-ethereum",
    "amount": "12.500000",
    "asset": "USDT",
    "block_hash": "0xdef",
    "invoice_rails": "usdt-tron",
    "wrong": "network",
}
_PAYOUT = {  # core.payouts._outcomes.payout_payload
    "merchant_id": "m1",
    "payout_id": "po_1",
    "settlement_id": "stl_1",
    "attempt": "1",
    "state": "completed",
    "amount": "1500",
    "charge": "15",
    "currency": "KES",
    "method": "mpesa_b2c",
    "destination": "2547****5678",
    "receipt": "RCP1",
    "result_code": "0",
    "result_desc": "paid",
}
_SETTLEMENT = {  # core.payouts._outcomes._complete_settlement
    "merchant_id": "m1",
    "settlement_id": "stl_1",
    "cutoff": AT.isoformat(),
    "paid": "1500",
    "currency": "KES",
    "payouts": "2",
    "failed_payouts": "1",
    "quote_id": "q_1",
    "converted": "11.610000",
    "converted_asset": "USDT",
    "conversions": "11.61 USDT at q_1",
    # payload v2 only (R14-12): the settlement's books, as the API's settlement says them
    "credited": "1515.49",
    "fx_spread": "7.20",
    "payout_charges": "15.00",
    "remainder": "0.49",
    "conversion_list": [{"amount": "11.610000", "asset": "USDT", "quote_id": "q_1", "credited": "1515.49"}],
}
_REFUND = {  # core.payments.refunds._publish
    "merchant_id": "m1",
    "refund_id": "rf_1",
    "invoice_id": "inv_1",
    "state": "requested",
    "rail": "usdt-tron",
    "amount": "2.000000",
    "asset": "USDT",
    "address": "TXYZ",
    "tx_hash": "",
    "quote_id": "",
    "failure": "",
    # payload v2 only: funded by the merchant after settlement (R25), and the shillings it owes for that
    "funded_by_merchant": "2.000000",
    "funded_by_merchant_asset": "USDT",
    "owed_by_merchant": "261.30",
}


def _sample(kind: str) -> dict[str, object]:
    """A payload of ``kind`` as its producer writes it (every member the producer sets)."""
    if kind == "invoice.created":
        due = {"usdt-tron": "10.000000", "btc-bitcoin": "0.00012000"}
        return {**_INVOICE, **_STATE, "price": "1500.00", "currency": "KES", "expires_at": AT.isoformat(), "due": due}
    if kind.startswith("invoice.wrong_network"):
        return {**_INVOICE, **_STATE, **_WRONG}
    if kind == "invoice.settled":  # the shortfall of a tolerated underpayment
        return {
            **_INVOICE,
            **_STATE,
            "exception": "paid_under_tolerated",
            "shortfall": "40.01",
            "shortfall_asset": "KES",
            # payload v2 only (R14-12): what it was paid, and what each rail received
            "paid": "959.99",
            "paid_asset": "KES",
            "received": {"usdt-tron": "7.345678"},
        }
    if kind.startswith("invoice."):
        return {**_INVOICE, **_STATE}
    if kind.startswith("payout."):
        return _PAYOUT
    if kind.startswith("settlement."):
        return _SETTLEMENT
    return _REFUND


def _schema(catalogue, kind):
    return catalogue[kind]["post"]["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize("kind", [*WEBHOOK_EVENTS])
def test_every_event_kind_has_a_body_in_each_version_that_matches_only_its_own_schema(client, kind):
    """Each event kind's v1 body is the flat payload as before and its v2 body the API's shapes; each validates
    against its own version's schema in the catalogue and not the other's."""
    catalogue = client.get("/openapi.json").json["webhooks"]
    message = OutboxMessage.new("out_1", kind, _sample(kind), at=AT)
    v1, v2 = json.loads(event_body(message, 1)), json.loads(event_body(message, 2))
    v1_data = {key: value for key, value in message.payload.items() if key not in v2_only_fields(kind)}
    assert v1 == {"type": kind, "timestamp": AT.isoformat(), "data": v1_data}
    assert v2["version"] == 2 and "version" not in v1
    branches = _schema(catalogue, kind)["oneOf"]
    for body, own, other in ((v1, branches[0], branches[1]), (v2, branches[1], branches[0])):
        assert [e.message for e in jsonschema_rs.validator_for(own).iter_errors(body)] == [], body
        assert not jsonschema_rs.validator_for(other).is_valid(body)
    # v2 carries no amount as a bare string and no count as a string
    for key, value in v2["data"].items():
        if key in {
            "amount",
            "charge",
            "paid",
            "converted",
            "price",
            "shortfall",
            "funded_by_merchant",
            "owed_by_merchant",
            "credited",
            "fx_spread",
            "payout_charges",
            "remainder",
        }:
            assert isinstance(value, dict) and set(value) == {"amount", "asset"}, (key, value)
        if key in {"attempt", "payouts", "failed_payouts", "index"}:
            assert isinstance(value, int), (key, value)
    assert not {"currency", "shortfall_asset", "converted_asset", "funded_by_merchant_asset", "paid_asset"} & set(
        v2["data"]
    )


def test_v2_bodies_use_the_api_money_shape(client):
    """A v2 settlement's paid is KES money, converted the asset sold; a refund's amount carries its asset; an invoice's
    due is money by rail; a settlement that converted nothing says converted: null."""
    settled = json.loads(event_body(OutboxMessage.new("o", "settlement.completed", _SETTLEMENT, at=AT), 2))["data"]
    assert settled["paid"] == {"amount": "1500", "asset": "KES"}
    assert settled["converted"] == {"amount": "11.610000", "asset": "USDT"}
    assert (settled["payouts"], settled["failed_payouts"]) == (2, 1)
    # R14-12: the merchant's books in v2, as money; conversions stays its text, conversion_list is the list
    books = {key: settled[key] for key in ("credited", "fx_spread", "payout_charges", "remainder")}
    assert books == {
        "credited": {"amount": "1515.49", "asset": "KES"},
        "fx_spread": {"amount": "7.20", "asset": "KES"},
        "payout_charges": {"amount": "15.00", "asset": "KES"},
        "remainder": {"amount": "0.49", "asset": "KES"},
    }
    assert settled["conversions"] == "11.61 USDT at q_1"
    assert settled["conversion_list"] == [
        {
            "amount": {"amount": "11.610000", "asset": "USDT"},
            "quote_id": "q_1",
            "credited": {"amount": "1515.49", "asset": "KES"},
        }
    ]
    invoice = json.loads(event_body(OutboxMessage.new("o", "invoice.settled", _sample("invoice.settled"), at=AT), 2))
    assert invoice["data"]["paid"] == {"amount": "959.99", "asset": "KES"} and "paid_asset" not in invoice["data"]
    assert invoice["data"]["received"] == {"usdt-tron": {"amount": "7.345678", "asset": "USDT"}}
    # an event written before these fields existed says null in v2 (as the schema allows); v1 never has them
    old = {k: v for k, v in _SETTLEMENT.items() if k not in v2_only_fields("settlement.completed")}
    before = json.loads(event_body(OutboxMessage.new("o", "settlement.completed", old, at=AT), 2))["data"]
    assert before["credited"] is None and before["conversion_list"] is None
    v1_settled = json.loads(event_body(OutboxMessage.new("o", "settlement.completed", _SETTLEMENT, at=AT), 1))["data"]
    assert v1_settled == old
    nothing = {**_SETTLEMENT, "converted": "0", "converted_asset": ""}
    assert (
        json.loads(event_body(OutboxMessage.new("o", "settlement.completed", nothing, at=AT), 2))["data"]["converted"]
        is None
    )
    refund = json.loads(event_body(OutboxMessage.new("o", "refund.sent", _REFUND, at=AT), 2))["data"]
    assert refund["amount"] == {"amount": "2.000000", "asset": "USDT"} and "asset" not in refund
    assert refund["funded_by_merchant"] == {"amount": "2.000000", "asset": "USDT"}
    assert refund["owed_by_merchant"] == {"amount": "261.30", "asset": "KES"}
    unfunded = {**_REFUND, "funded_by_merchant": "", "funded_by_merchant_asset": "", "owed_by_merchant": ""}
    plain = json.loads(event_body(OutboxMessage.new("o", "refund.sent", unfunded, at=AT), 2))["data"]
    assert (plain["funded_by_merchant"], plain["owed_by_merchant"]) == (None, None)
    # v1 is as it always was: no funding fields (an existing integration's body does not change)
    v1 = json.loads(event_body(OutboxMessage.new("o", "refund.sent", _REFUND, at=AT), 1))["data"]
    assert set(v1) == set(_REFUND) - {"funded_by_merchant", "funded_by_merchant_asset", "owed_by_merchant"}
    created = json.loads(event_body(OutboxMessage.new("o", "invoice.created", _sample("invoice.created"), at=AT), 2))
    assert created["data"]["due"]["btc-bitcoin"] == {"amount": "0.00012000", "asset": "BTC"}
    assert created["data"]["price"] == {"amount": "1500.00", "asset": "KES"}


def test_an_endpoint_asks_for_v2_and_its_deliveries_say_so_in_header_and_body(client, hooks, shop):
    """An endpoint created with payload_version 2 receives v2 bodies with the version header; another at the
    default receives v1 with header 1; the ping follows the endpoint's version too."""
    first = client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/one"}, headers=shop.stepped)
    second = client.post(
        "/v1/webhook-endpoints", json={"url": "https://duka.example/two", "payload_version": 2}, headers=shop.stepped
    )
    assert (first.json["endpoint"]["payload_version"], second.json["endpoint"]["payload_version"]) == (1, 2)
    shop.invoice()
    ping = client.post(f"/v1/webhook-endpoints/{second.json['endpoint']['id']}/test", headers=shop.headers)
    assert ping.status_code == 202
    hooks.relay()
    hooks.run_jobs()
    by_url = {}
    for sent in hooks.sender.sent:
        by_url.setdefault(sent.url, []).append((sent.headers["cryptopay-payload-version"], json.loads(sent.body)))
    assert {header for header, _ in by_url["https://duka.example/one"]} == {"1"}
    assert {(header, body.get("version")) for header, body in by_url["https://duka.example/two"]} == {("2", 2)}
    assert PING_EVENT in {body["type"] for _, body in by_url["https://duka.example/two"]}
    created = next(b for _, b in by_url["https://duka.example/two"] if b["type"] == "invoice.created")
    assert all(set(money) == {"amount", "asset"} for money in created["data"]["due"].values())


def test_patch_switches_the_version_for_later_events_and_is_audited(client, hooks, services, shop):
    """PATCH payload_version 2 changes what later events look like (deliveries already made keep their body); it is
    audited with the new version; a version other than 1 or 2 is a 422 that changes nothing."""
    created = client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/h"}, headers=shop.stepped)
    endpoint_id = created.json["endpoint"]["id"]
    shop.invoice()
    hooks.relay()
    path = f"/v1/webhook-endpoints/{endpoint_id}"
    for bad in (3, 0, "2", True, None):
        refused = client.patch(path, json={"payload_version": bad}, headers=shop.stepped)
        if bad is None:  # null leaves the field as it is
            assert refused.status_code == 200 and refused.json["payload_version"] == 1
            continue
        assert refused.status_code == 422 and refused.content_type == "application/problem+json", bad
    assert client.get(path, headers=shop.headers).json["payload_version"] == 1
    changed = client.patch(path, json={"payload_version": 2}, headers=shop.stepped)
    assert changed.status_code == 200 and changed.json["payload_version"] == 2
    shop.invoice()
    hooks.relay()
    hooks.run_jobs()
    versions = [json.loads(sent.body).get("version", 1) for sent in hooks.sender.sent]
    assert versions == [1, 2]
    records = [r for r in services.audit.records() if r.subject == f"webhook_endpoint:{endpoint_id}"]
    assert any(
        r.action == "webhook_endpoint.updated" and dict(r.details).get("payload_version") == "2" for r in records
    )
    refused = client.post(
        "/v1/webhook-endpoints", json={"url": "https://duka.example/x", "payload_version": 9}, headers=shop.stepped
    )
    assert refused.status_code == 422
    listed = client.get("/v1/webhook-endpoints", headers=shop.headers).json["data"]
    assert [e["url"] for e in listed] == ["https://duka.example/h"]


def test_the_document_and_the_docs_page_say_how_a_delivery_is_signed(client):
    """Review12 R12-4: an integrator working from /openapi.json or /docs alone learns the three Standard Webhooks
    headers, the signed string and that webhook-id is the de-duplication key; every event declares the headers."""
    document = client.get("/openapi.json").json
    for name, operation in document["webhooks"].items():
        headers = {p["name"]: p for p in operation["post"]["parameters"] if p["in"] == "header"}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature", "cryptopay-payload-version"} <= set(headers)
        assert all(headers[h]["required"] for h in ("webhook-id", "webhook-timestamp", "webhook-signature")), name
        assert "{webhook-id}.{webhook-timestamp}.{raw body}" in operation["post"]["description"]
    assert "HMAC-SHA256" in document["info"]["description"] and "whsec_" in document["info"]["description"]
    page = client.get("/docs").get_data(as_text=True)
    assert "<h2 id='webhooks'>Webhooks</h2>" in page and "<code>webhook-signature</code>" in page
    assert "<code>invoice.settled</code>" in page
