"""Wrong-network payments over HTTP: listed under the invoice, a webhook event, accepted by the merchant."""

from __future__ import annotations

import json

import pytest
from cryptopay.core.money import Money
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.webhooks import verify

from tests.integration.http_payments.payments_support import Shop, WebhookRig, idem, key_headers


@pytest.fixture
def stack() -> PaymentsStack:
    return PaymentsStack(networks=("tron", "ethereum", "polygon"))


PAYER = "0x" + "ab" * 20  # the address that paid: the only one a merchant may refund to (review R27)


def _paid_on_polygon(client, stack: PaymentsStack, shop: Shop) -> dict:
    """An invoice for 25 USDT on Ethereum, paid in USDT on Polygon and scanned."""
    invoice = shop.invoice("25", "USDT", rails=["usdt-ethereum"])
    stack.chains["polygon"].pay(
        invoice["payment_options"][0]["address"], stack.invoice(invoice["id"]).price, sender=PAYER
    )
    stack.sync()
    return invoice


def test_the_invoice_lists_the_payment_and_the_merchant_accepts_it(client, auth, stack, shop, rival):
    """Listed pending (not credited, the invoice still new); accepted: processing, then settled at Polygon's depth;
    another tenant sees neither."""
    invoice = _paid_on_polygon(client, stack, shop)
    secret = auth.api_key(shop.headers, shop.id, ["invoices:write", "invoices:read"])
    listed = client.get(f"/v1/invoices/{invoice['id']}/wrong-network-payments", headers=key_headers(secret))
    assert listed.status_code == 200, listed.json
    [payment] = listed.json["data"]
    assert listed.json["next_cursor"] is None  # review R20: the list shape, paged as every list
    assert (payment["state"], payment["network"], payment["rail"]) == ("pending", "polygon", "usdt-polygon")
    assert payment["amount"] == {"amount": "25.000000", "asset": "USDT"} and payment["invoice_rails"] == [
        "usdt-ethereum"
    ]
    assert client.get(f"/v1/invoices/{invoice['id']}", headers=shop.headers).json["state"] == "new"
    path = f"/v1/invoices/{invoice['id']}/wrong-network-payments/{payment['id']}/accept"
    assert client.post(path, headers=rival.headers).status_code == 404
    assert client.get(f"/v1/invoices/{invoice['id']}/wrong-network-payments", headers=rival.headers).status_code == 404
    accepted = client.post(path, headers=idem(key_headers(secret)))
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["state"] == "accepted" and accepted.json["decided_by"].startswith("api_key:")
    read = client.get(f"/v1/invoices/{invoice['id']}", headers=shop.headers).json
    assert read["state"] == "processing"
    assert [o["rail"] for o in read["payment_options"]] == ["usdt-ethereum", "usdt-polygon"]
    again = client.post(path, headers=shop.headers)
    assert again.status_code == 409 and again.json["code"] == "invalid_state"
    stack.confirm(3)
    assert client.get(f"/v1/invoices/{invoice['id']}", headers=shop.headers).json["state"] == "settled"


def test_an_unknown_payment_is_a_404_and_a_usdc_one_a_422(client, stack, shop):
    """A payment id of no record (or of another invoice) is not found; an asset the invoice does not ask for is
    refused with its own problem code."""
    invoice = shop.invoice("25", "USDT", rails=["usdt-ethereum"])
    missing = client.post(f"/v1/invoices/{invoice['id']}/wrong-network-payments/wnp_nope/accept", headers=shop.headers)
    assert missing.status_code == 404
    stack.chains["polygon"].pay(invoice["payment_options"][0]["address"], Money.of("25", "USDC"))
    stack.sync()
    [payment] = client.get(f"/v1/invoices/{invoice['id']}/wrong-network-payments", headers=shop.headers).json["data"]
    path = f"/v1/invoices/{invoice['id']}/wrong-network-payments/{payment['id']}/accept"
    refused = client.post(path, headers=shop.headers)
    assert refused.status_code == 422 and refused.json["code"] == "wrong_network_not_acceptable"
    other = shop.invoice("5", "USDT", rails=["usdt-ethereum"])
    elsewhere = client.post(
        f"/v1/invoices/{other['id']}/wrong-network-payments/{payment['id']}/accept", headers=shop.headers
    )
    assert elsewhere.status_code == 404


def test_the_merchant_s_endpoint_gets_the_webhook(client, stack, shop, hooks: WebhookRig):
    """An endpoint subscribed to invoice.wrong_network_payment receives it, signed like every event."""
    created = client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://duka.example/hooks", "events": ["invoice.wrong_network_payment"]},
        headers=shop.stepped,
    )
    assert created.status_code == 201, created.json
    invoice = _paid_on_polygon(client, stack, shop)
    assert len(hooks.relay()) == 1 and hooks.run_jobs() == 1
    (sent,) = hooks.sender.sent
    headers = {k.lower(): v for k, v in sent.headers.items()}
    verify(created.json["secret"], headers, sent.body, now=hooks.clock.now())
    body = json.loads(sent.body)
    assert body["type"] == "invoice.wrong_network_payment"
    assert (body["data"]["invoice_id"], body["data"]["rail"]) == (invoice["id"], "usdt-polygon")


def test_the_merchant_refunds_it_to_the_payer(client, auth, stack, shop):
    """422 while shallower than Polygon asks; then 201 with the refund (whole amount, Polygon's rail) and the
    payment shows it; a user session needs a step-up, and the Idempotency-Key is required."""
    invoice = _paid_on_polygon(client, stack, shop)
    [payment] = client.get(f"/v1/invoices/{invoice['id']}/wrong-network-payments", headers=shop.headers).json["data"]
    path = f"/v1/invoices/{invoice['id']}/wrong-network-payments/{payment['id']}/refund"
    body = {"address": "0x" + "ab" * 20}
    assert client.post(path, json=body, headers=idem(shop.headers)).status_code == 403  # no step-up
    early = client.post(path, json=body, headers=idem(shop.stepped))
    assert early.status_code == 422 and "confirmations" in early.json["detail"]
    stack.confirm(2)
    assert client.post(path, json=body, headers=shop.stepped).status_code == 400  # no Idempotency-Key
    secret = auth.api_key(shop.headers, shop.id, ["refunds:write", "invoices:read"])
    elsewhere = client.post(path, json={"address": "0x" + "cd" * 20}, headers=idem(key_headers(secret)))
    assert elsewhere.status_code == 422 and elsewhere.json["code"] == "payer_address_only"  # review R27
    assert client.post(path, json={"address": "0x" + "cd" * 20}, headers=idem(shop.stepped)).status_code == 422
    assert stack.refunds.list_refunds(invoice["id"]) == []
    refund = client.post(path, json=body, headers=idem(key_headers(secret)))
    assert refund.status_code == 201, refund.json
    assert (refund.json["rail"], refund.json["amount"]) == ("usdt-polygon", {"amount": "25.000000", "asset": "USDT"})
    assert refund.json["state"] == "requested" and refund.json["address"] == body["address"]
    [shown] = client.get(f"/v1/invoices/{invoice['id']}/wrong-network-payments", headers=shop.headers).json["data"]
    assert (shown["state"], shown["refund_id"]) == ("refunded", refund.json["id"])
    bad = client.post(path, json={}, headers=idem(key_headers(secret)))  # no address: the payer's
    assert bad.status_code == 409  # already being refunded
