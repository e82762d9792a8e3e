"""Store settings, FX quotes, settlement runs, payout retries, and the OpenAPI document of the payment resources."""

from __future__ import annotations

from tests.integration.http_payments.payments_support import idem, refused_payout

NEW_ROUTES = {
    ("/v1/invoices", "post"),
    ("/v1/invoices", "get"),
    ("/v1/invoices/{invoice_id}", "get"),
    ("/v1/invoices/{invoice_id}/qr.svg", "get"),
    ("/v1/merchants/{merchant_id}/store", "put"),
    ("/v1/merchants/{merchant_id}/store", "get"),
    ("/v1/settlements", "get"),
    ("/v1/settlements/run", "post"),
    ("/v1/payouts", "get"),
    ("/v1/payouts/{payout_id}", "get"),
    ("/v1/payouts/{payout_id}/retry", "post"),
    ("/v1/webhook-endpoints", "post"),
    ("/v1/webhook-endpoints", "get"),
    ("/v1/webhook-endpoints/{endpoint_id}", "get"),
    ("/v1/webhook-endpoints/{endpoint_id}", "delete"),
    ("/v1/webhook-deliveries", "get"),
    ("/v1/webhook-deliveries/{delivery_id}", "get"),
    ("/v1/webhook-deliveries/{delivery_id}/redeliver", "post"),
    ("/v1/fx/quote", "get"),
}


def test_store_settings_are_read_back_and_validated(client, auth, shop, stack):
    """A store round-trips; bad fields are 422 naming them; only an admin sets the fee, as a new version."""
    stored = shop.store(["usdt-tron"], invoice_window_minutes=30, tolerance_percent="0.5")
    assert stored == client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json
    assert stored["rails"] == ["usdt-tron"] and stored["tolerance_percent"] == "0.5"
    for body, field in (
        ({"rails": ["usdt-tron"], "invoice_window_minutes": 0}, "invoice_window_minutes"),
        ({"rails": ["usdt-tron"], "tolerance_percent": "100"}, "tolerance_percent"),
        ({"rails": ["usdt-tron"], "tolerance_percent": 1.5}, "tolerance_percent"),
        ({"rails": ["doge-dogecoin"]}, "rails"),
        ({"rails": []}, "rails"),
    ):
        response = client.put(f"/v1/merchants/{shop.id}/store", json=body, headers=shop.headers)
        assert response.status_code == 422 and response.json["errors"][0]["field"] == field, (body, response.json)
    fee = client.put(
        f"/v1/merchants/{shop.id}/store",
        json={"rails": ["usdt-tron"], "merchant_fee_percent": "0"},
        headers=shop.headers,
    )
    assert fee.status_code == 422 and "store/merchant-fee" in fee.json["errors"][0]["detail"], fee.json
    shop.set_fee("1")
    stack.clock.advance(seconds=1)
    fees = shop.set_fee("1.5")["merchant_fees"]
    assert [(f["version"], f["percent"]) for f in fees] == [(1, "1"), (2, "1.5")]
    assert shop.store(["usdt-tron"])["merchant_fees"] == fees  # a merchant's own change keeps the fee
    actions = [r.event.action for r in stack.storage.audit_records()]
    assert actions.count("store.put") >= 2 and actions.count("store.merchant_fee") == 2


def test_fx_quotes_are_locked_and_refused_without_fresh_rates(client, shop, stack):
    """A quote names its pair and sides as strings; with no fresh source it is a 503 problem."""
    quote = client.get("/v1/fx/quote?pair=USDT/KES", headers=shop.headers)
    assert quote.status_code == 200 and quote.json["pair"] == "USDT/KES"
    assert isinstance(quote.json["bid"], str) and quote.json["bid"] <= quote.json["ask"]
    assert client.get("/v1/fx/quote?pair=USDT", headers=shop.headers).json["errors"][0]["field"] == "pair"
    stack.rates.fail()
    refused = client.get("/v1/fx/quote?pair=USDT/KES", headers=shop.headers)
    assert refused.status_code == 503 and refused.content_type == "application/problem+json"


def test_a_dry_run_plans_without_settling_and_a_run_is_idempotent(client, stack, shop):
    """dry_run shows the plan and writes nothing; the same Idempotency-Key replays the one real run."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    dry = client.post("/v1/settlements/run", json={"dry_run": True}, headers=idem(shop.headers))
    (plan,) = dry.json["runs"]
    assert plan["dry_run"] and plan["settlement"] is None and plan["plan"]["total_paid"]["asset"] == "KES"
    assert client.get("/v1/settlements", headers=shop.headers).json["data"] == []
    headers = idem(shop.headers, "run-1")
    first = client.post("/v1/settlements/run", json={}, headers=headers)
    second = client.post("/v1/settlements/run", json={}, headers=headers)
    assert first.json == second.json and second.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/v1/settlements", headers=shop.headers).json["data"]) == 1
    assert first.json["runs"][0]["plan"]["parts"] == [plan["plan"]["parts"][0]]
    assert client.post("/v1/settlements/run", json={}, headers=shop.headers).status_code == 400  # a key is required


def test_an_admin_retries_a_failed_payout_once(client, auth, stack, shop):
    """A payout M-Pesa refused is retried by an admin as a new attempt; a second retry is refused."""
    admin = auth.user("admin")
    payout_id = refused_payout(client, stack, shop, admin)
    assert client.get(f"/v1/payouts/{payout_id}", headers=shop.headers).json["state"] == "failed"
    assert client.get("/v1/payouts?state=failed", headers=admin).json["data"][0]["id"] == payout_id
    asked = client.post(f"/v1/payouts/{payout_id}/retry", headers=idem(admin))  # Transaction Status first
    assert asked.status_code == 422 and asked.json["code"] == "awaiting_status"
    stack.deliver_callbacks()  # its answer: failed, as the result said
    retried = client.post(f"/v1/payouts/{payout_id}/retry", headers=idem(admin))
    assert retried.status_code == 201 and retried.json["retry_of"] == payout_id and retried.json["attempt"] == 2
    again = client.post(f"/v1/payouts/{payout_id}/retry", headers=idem(admin))
    assert again.status_code == 422 and "already retried" in again.json["detail"]
    assert client.post("/v1/payouts/po_nope/retry", headers=idem(admin)).status_code == 404
    # Newest first: the retry, then the failed payout.
    states = [p["state"] for p in client.get("/v1/payouts", headers=shop.headers).json["data"]]
    assert states == ["planned", "failed"] and stack.books_balanced()


def test_openapi_documents_every_payment_route(client):
    """Every new public route is in /openapi.json with a summary, security and problem responses."""
    document = client.get("/openapi.json").json
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented >= NEW_ROUTES
    for path, method in NEW_ROUTES:
        op = document["paths"][path][method]
        assert op["summary"] and op["security"] and "401" in op["responses"], (path, method)
    create = document["paths"]["/v1/invoices"]["post"]
    assert {"apiKey": ["invoices:write"]} in create["security"]
    assert any(p["name"] == "Idempotency-Key" and not p["required"] for p in create["parameters"])
    run = document["paths"]["/v1/settlements/run"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in run["parameters"])
    qr = document["paths"]["/v1/invoices/{invoice_id}/qr.svg"]["get"]["responses"]["200"]
    assert "image/svg+xml" in qr["content"]
    assert not [path for path in document["paths"] if path.startswith("/hooks/")]  # Safaricom's, not integrators'

    schemas = document["components"]["schemas"]
    assert schemas["CreateInvoice"]["properties"]["amount"]["type"] == "string"
    assert schemas["CreateInvoice"]["properties"]["currency"]["enum"] == ["KES", "USDT"]
