"""Refunds and cancelling over HTTP: scopes, step-up for users, idempotency, the cap, tenancy, webhooks."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema_rs
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.ports.chains import TxState

from tests.integration.http_payments.payments_support import idem, key_headers

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _settled(shop, stack) -> dict:
    invoice = shop.invoice(rails=["usdt-tron"])
    stack.pay(invoice["id"])
    stack.confirm(3)
    return invoice


def test_an_api_key_with_refunds_write_refunds_a_settled_invoice_once_per_key(client, auth, stack, shop, hooks):
    """201 with the refund; the same Idempotency-Key replays it; the worker sends it; each state is a webhook."""
    client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/hooks"}, headers=shop.stepped)
    invoice = _settled(shop, stack)
    key = key_headers(auth.api_key(shop.headers, shop.id, ["refunds:write", "refunds:read"]))
    body = {"address": CUSTOMER, "amount": "1300", "currency": "KES"}
    path = f"/v1/invoices/{invoice['id']}/refunds"
    created = client.post(path, json=body, headers=idem(key, "refund-1"))
    assert created.status_code == 201, created.json
    refund = created.json
    assert refund["state"] == "requested" and refund["requested"] == {"amount": "1300.00", "asset": "KES"}
    assert refund["quote_id"] and refund["rate"] and refund["amount"]["asset"] == "USDT"
    again = client.post(path, json=body, headers=idem(key, "refund-1"))
    assert again.status_code == 201 and again.json["id"] == refund["id"]
    assert len(client.get(path, headers=key).json["data"]) == 1

    stack.refunds.send_refunds()
    stack.senders["tron"].finish(refund["id"], TxState.CONFIRMED)
    stack.refunds.check_refunds()
    shown = client.get(f"/v1/refunds/{refund['id']}", headers=key)
    assert shown.status_code == 200 and shown.json["state"] == "confirmed" and shown.json["tx_hash"]
    hooks.relay()
    types = [d.event_type for d in hooks.deliveries()]
    assert [t for t in types if t.startswith("refund.")] == ["refund.requested", "refund.sent", "refund.confirmed"]
    hooks.run_jobs()
    catalogue = client.get("/openapi.json").json["webhooks"]
    bodies = [json.loads(sent.body) for sent in hooks.sender.sent]
    for body in [b for b in bodies if b["type"].startswith(("refund.", "invoice.cancelled"))]:
        schema = catalogue[body["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(body)] == [], body


def test_a_user_session_needs_a_step_up_and_a_key_needs_the_scope(client, auth, stack, shop):
    """A merchant login without a step-up is a 403 that keeps the key unused; an invoices-only key is a 403."""
    invoice = _settled(shop, stack)
    path, body = f"/v1/invoices/{invoice['id']}/refunds", {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
    plain = client.post(path, json=body, headers=idem(shop.headers, "k1"))
    assert plain.status_code == 403 and plain.content_type == "application/problem+json"
    stepped = client.post(path, json=body, headers=idem(shop.stepped, "k1"))
    assert stepped.status_code == 201, stepped.json
    narrow = key_headers(auth.api_key(shop.headers, shop.id, ["invoices:write", "invoices:read"]))
    assert client.post(path, json=body, headers=idem(narrow)).status_code == 403
    assert client.get(path, headers=narrow).status_code == 403
    assert client.post(path, json=body, headers=shop.stepped).status_code == 400  # no Idempotency-Key


def test_refunds_never_exceed_what_was_received_and_bad_input_changes_nothing(client, stack, shop):
    """Beyond the received amount is a 422 refusal; a bad address, currency or places are 422s; nothing is held."""
    invoice = _settled(shop, stack)
    path = f"/v1/invoices/{invoice['id']}/refunds"
    received = invoice["payment_options"][0]["amount"]
    first = client.post(
        path, json={"address": CUSTOMER, "amount": received, "currency": "USDT"}, headers=idem(shop.stepped)
    )
    assert first.status_code == 201, first.json
    more = client.post(
        path, json={"address": CUSTOMER, "amount": "0.01", "currency": "USDT"}, headers=idem(shop.stepped)
    )
    assert more.status_code == 422 and "at most 0.000000" in more.json["detail"]
    for bad in (
        {"address": "0x" + "12" * 20, "amount": "1", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "1", "currency": "XYZ"},
        {"address": CUSTOMER, "amount": "1.0000001", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "1"},
        {"address": CUSTOMER, "amount": "1", "currency": "USDT", "rail": "usdt-ethereum"},
    ):
        answer = client.post(path, json=bad, headers=idem(shop.stepped))
        assert answer.status_code == 422 and answer.content_type == "application/problem+json", (bad, answer.json)
    assert len(client.get(path, headers=shop.headers).json["data"]) == 1


def test_another_merchant_sees_neither_the_invoice_refunds_nor_the_refund(client, stack, shop, rival):
    """404 for the rival, exactly as for a missing object."""
    invoice = _settled(shop, stack)
    path = f"/v1/invoices/{invoice['id']}/refunds"
    made = client.post(path, json={"address": CUSTOMER, "amount": "1", "currency": "USDT"}, headers=idem(shop.stepped))
    assert client.get(path, headers=rival.headers).status_code == 404
    assert client.get(f"/v1/refunds/{made.json['id']}", headers=rival.headers).status_code == 404
    assert client.post(path, json={"address": CUSTOMER}, headers=idem(rival.stepped)).status_code == 404


def test_refunds_list_newest_first_and_walk_by_cursor(client, stack, shop):
    """Three refunds, listed newest first; limit=1 pages see each once, then a null cursor."""
    invoice = _settled(shop, stack)
    path, made = f"/v1/invoices/{invoice['id']}/refunds", []
    for _ in range(3):
        body = {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
        made.append(client.post(path, json=body, headers=idem(shop.stepped)).json["id"])
        stack.clock.advance(seconds=1)
    walked, cursor = [], None
    while True:
        page = client.get(
            path, query_string={"limit": "1", **({"cursor": cursor} if cursor else {})}, headers=shop.headers
        )
        walked += [r["id"] for r in page.json["data"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert walked == list(reversed(made))


def test_cancelling_a_new_invoice_and_the_conflict_once_paid(client, stack, shop):
    """A new invoice is cancelled (twice is fine); one that received a payment is a 409 problem."""
    invoice = shop.invoice(rails=["usdt-tron"])
    cancelled = client.post(f"/v1/invoices/{invoice['id']}/cancel", headers=shop.headers)
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled" and cancelled.json["cancelled_at"]
    assert client.post(f"/v1/invoices/{invoice['id']}/cancel", headers=shop.headers).json["state"] == "cancelled"
    paid = shop.invoice(rails=["usdt-tron"])
    stack.pay(paid["id"], stack.invoice(paid["id"]).options[0].due)
    stack.tick(minutes=1)
    conflict = client.post(f"/v1/invoices/{paid['id']}/cancel", headers=shop.headers)
    assert conflict.status_code == 409 and conflict.json["code"] == "invoice_received_payment"
    assert client.get(f"/v1/invoices/{paid['id']}", headers=shop.headers).json["state"] == "processing"


def test_a_named_quote_is_the_merchants_and_converts_one_refund(client, stack, shop, rival):
    """A quote the shop locked converts one refund (its Idempotency-Key replays that answer); naming it again is 409
    quote_used; another merchant's quote, the invoice's own and an unknown id are 404 alike, nothing refunded."""
    invoice = _settled(shop, stack)
    path = f"/v1/invoices/{invoice['id']}/refunds"
    mine = client.get("/v1/fx/quote?pair=USDT/KES", headers=shop.headers).json["id"]
    theirs = client.get("/v1/fx/quote?pair=USDT/KES", headers=rival.headers).json["id"]
    invoice_quote = stack.invoice(invoice["id"]).quote_ids[0]
    body = {"address": CUSTOMER, "amount": "650", "currency": "KES"}
    for other in (theirs, invoice_quote, "fxq_unknown"):
        refused = client.post(path, json={**body, "quote_id": other}, headers=idem(shop.stepped))
        assert refused.status_code == 404, refused.json
        assert refused.content_type == "application/problem+json"
        assert [e["field"] for e in refused.json.get("errors", [])] in ([], ["quote_id"])
    made = client.post(path, json={**body, "quote_id": mine}, headers=idem(shop.stepped, "named-1"))
    assert made.status_code == 201 and made.json["quote_id"] == mine, made.json
    replay = client.post(path, json={**body, "quote_id": mine}, headers=idem(shop.stepped, "named-1"))
    assert replay.status_code == 201 and replay.json == made.json
    reused = client.post(path, json={**body, "quote_id": mine}, headers=idem(shop.stepped, "named-2"))
    assert reused.status_code == 409 and reused.json["code"] == "quote_used", reused.json
    assert [r["id"] for r in client.get(path, headers=shop.headers).json["data"]] == [made.json["id"]]
    other_invoice = _settled(rival, stack)
    stolen = client.post(
        f"/v1/invoices/{other_invoice['id']}/refunds", json={**body, "quote_id": mine}, headers=idem(rival.stepped)
    )
    assert stolen.status_code == 404


def test_a_refund_to_an_address_the_platform_controls_is_refused_and_holds_nothing(client, stack, shop):
    """H20: a wallet's deposit address (as a deriver gives it) as the customer's: 422 ``internal_address`` naming
    ``address``; no refund, nothing sent."""
    invoice = _settled(shop, stack)
    wallet = "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW"
    with stack.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("tron", wallet, 900, None, None, stack.clock.now(), user_id="usr_1"))
    path = f"/v1/invoices/{invoice['id']}/refunds"
    body = {"address": wallet, "amount": "1", "currency": "USDT"}
    refused = client.post(path, json=body, headers=idem(shop.stepped))
    assert refused.status_code == 422 and refused.content_type == "application/problem+json", refused.json
    assert (refused.json["code"], refused.json["errors"][0]["field"]) == ("internal_address", "address")
    assert client.get(path, headers=shop.headers).json["data"] == []
    assert stack.senders["tron"].requests == []


def test_a_refund_after_the_merchant_was_paid_out_is_funded_by_it_or_refused_beyond_its_volume(client, stack, shop):
    """Outside review R25: the shop's USDT was settled (instantly) and paid out; a refund of part of it is a 201,
    the shortfall owed by the merchant (``refund.fund`` audited); the whole invoice back is more than its
    settlements paid it (the fee and the spread): a 422 ``beyond_recent_volume`` naming the 30 days, nothing held."""
    from cryptopay.core import flows

    invoice = _settled(shop, stack)
    client.post("/v1/settlements/run", json={}, headers=idem(shop.headers))
    path = f"/v1/invoices/{invoice['id']}/refunds"
    received = invoice["payment_options"][0]["amount"]
    whole = client.post(
        path, json={"address": CUSTOMER, "amount": received, "currency": "USDT"}, headers=idem(shop.stepped)
    )
    assert whole.status_code == 422 and whole.json["code"] == "beyond_recent_volume", whole.json
    assert "last 30 days" in whole.json["detail"]
    part = client.post(path, json={"address": CUSTOMER, "amount": "5", "currency": "USDT"}, headers=idem(shop.stepped))
    assert part.status_code == 201, part.json
    owed = stack.ledger.balances([flows.merchant_receivable(shop.id)])[flows.merchant_receivable(shop.id)].posted
    assert owed.is_positive() and owed.asset.code == "KES"
    assert [r.action for r in stack.storage.audit_records() if r.action == "refund.fund"] == ["refund.fund"]
    listed = client.get(path, headers=shop.headers).json["data"]
    assert len(listed) == 1
    # the refund record says what the merchant funded and owes for it, in its own view and in the list
    shown = client.get(f"/v1/refunds/{part.json['id']}", headers=shop.headers).json
    for view in (part.json, shown, listed[0]):
        assert view["owed_by_merchant"] == {"amount": format(owed.amount, "f"), "asset": "KES"}, view
        funded = view["funded_by_merchant"]
        assert funded["asset"] == "USDT" and Decimal("0") < Decimal(funded["amount"]) <= Decimal("5")
    # what it owes is on its settlement summary: the settlements report's owed_by_merchant and its CSV's last row
    report = client.get("/v1/reports/settlements", headers=shop.headers)
    assert report.status_code == 200 and report.json["owed_by_merchant"] == part.json["owed_by_merchant"]
    csv_lines = client.get("/v1/reports/settlements?format=csv", headers=shop.headers).text.splitlines()
    assert csv_lines[-1].startswith("owed_by_merchant,") and csv_lines[-1].endswith(f",KES,{owed.amount:f}")
    assert client.get("/v1/reports/sales", headers=shop.headers).json["owed_by_merchant"] is None
