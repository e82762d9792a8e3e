"""Tenancy and scopes on the payment resources: a merchant never sees another's objects; keys need their scope."""

from __future__ import annotations

import pytest

from tests.integration.http_payments.payments_support import idem, key_headers


@pytest.fixture
def rivals_world(client, stack, hooks, rival):
    """The rival's invoice, settlement, payout, webhook endpoint and delivery."""
    body = {"url": "https://rival.example/hooks"}
    created = client.post("/v1/webhook-endpoints", json=body, headers=rival.stepped)
    endpoint_id = created.json["endpoint"]["id"]
    invoice = rival.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    run = client.post("/v1/settlements/run", json={}, headers=idem(rival.headers)).json["runs"][0]
    hooks.relay()
    hooks.run_jobs()
    delivery_id = hooks.deliveries()[0].id
    return {
        "invoice": invoice["id"],
        "settlement": run["settlement"]["id"],
        "payout": run["payouts"][0]["id"],
        "endpoint": endpoint_id,
        "delivery": delivery_id,
    }


def test_a_merchant_gets_404_for_every_object_of_another(client, shop, rival, rivals_world):
    """Reading, changing or naming another merchant's objects is the same 404 as a missing one."""
    w, h = rivals_world, shop.headers
    requests = [
        ("get", f"/v1/invoices/{w['invoice']}"),
        ("get", f"/v1/invoices/{w['invoice']}/qr.svg"),
        ("get", f"/v1/payouts/{w['payout']}"),
        ("get", f"/v1/webhook-endpoints/{w['endpoint']}"),
        ("delete", f"/v1/webhook-endpoints/{w['endpoint']}"),
        ("get", f"/v1/webhook-deliveries/{w['delivery']}"),
        ("post", f"/v1/webhook-deliveries/{w['delivery']}/redeliver"),
        ("get", f"/v1/merchants/{rival.id}/store"),
        ("put", f"/v1/merchants/{rival.id}/store"),
        ("get", f"/v1/invoices?merchant_id={rival.id}"),
        ("get", f"/v1/settlements?merchant_id={rival.id}"),
        ("get", f"/v1/payouts?merchant_id={rival.id}"),
        ("get", f"/v1/webhook-deliveries?merchant_id={rival.id}"),
    ]
    for method, path in requests:
        response = getattr(client, method)(path, headers=h, json={"rails": ["usdt-tron"]} if method == "put" else None)
        assert response.status_code == 404, (method, path, response.json)
        assert response.json["code"] == "not_found"
    missing = client.get("/v1/invoices/inv_999999", headers=h).json
    theirs = client.get(f"/v1/invoices/{w['invoice']}", headers=h).json
    assert missing["detail"].replace("inv_999999", "X") == theirs["detail"].replace(w["invoice"], "X")
    run = client.post("/v1/settlements/run", json={"merchant_id": rival.id}, headers=idem(h))
    assert run.status_code == 404


def test_listings_show_only_the_callers_own_objects(client, hooks, shop, rival, rivals_world):
    """Invoices, settlements, payouts, endpoints and deliveries listed by a merchant are only its own."""
    shop.invoice()
    for path in ("/v1/invoices", "/v1/settlements", "/v1/payouts", "/v1/webhook-endpoints", "/v1/webhook-deliveries"):
        mine = client.get(path, headers=shop.headers)
        assert mine.status_code == 200, (path, mine.json)
        assert all(item.get("merchant_id", shop.id) == shop.id for item in mine.json["data"]), path
        assert not {rivals_world[k] for k in rivals_world} & {item["id"] for item in mine.json["data"]}, path
    theirs = client.get("/v1/webhook-deliveries", headers=rival.headers).json["data"]
    assert [d["id"] for d in theirs] == [d.id for d in reversed(hooks.deliveries())]  # newest first
    assert len(theirs) == 3 and {d["event_type"] for d in theirs} >= {"invoice.created", "invoice.settled"}


def test_admins_name_the_merchant_and_see_every_tenant(client, auth, shop, rival, rivals_world):
    """An admin reads any merchant's objects by id and lists them with ?merchant_id= (required to list)."""
    admin = auth.user("admin")
    assert client.get(f"/v1/invoices/{rivals_world['invoice']}", headers=admin).status_code == 200
    listing = client.get(f"/v1/invoices?merchant_id={rival.id}", headers=admin).json["data"]
    assert [i["id"] for i in listing] == [rivals_world["invoice"]]
    unnamed = client.get("/v1/invoices", headers=admin)
    assert unnamed.status_code == 422 and unnamed.json["errors"][0]["field"] == "merchant_id"
    assert client.get("/v1/payouts?state=planned", headers=admin).json["data"][0]["id"] == rivals_world["payout"]
    assert client.get("/v1/invoices?merchant_id=mer_nobody", headers=admin).status_code == 404


def test_api_keys_need_the_scope_of_each_operation(client, auth, shop):
    """A key without invoices:write cannot create invoices; payouts need payouts:read; webhooks refuse keys."""
    reader = key_headers(auth.api_key(shop.headers, shop.id, ["invoices:read"]))
    writer = key_headers(auth.api_key(shop.headers, shop.id, ["invoices:write"]))
    denied = client.post("/v1/invoices", json={"amount": "100", "currency": "KES"}, headers=reader)
    assert denied.status_code == 403 and "invoices:write" in denied.json["detail"]
    created = client.post("/v1/invoices", json={"amount": "100", "currency": "KES"}, headers=writer)
    assert created.status_code == 201
    assert client.get(f"/v1/invoices/{created.json['id']}", headers=writer).status_code == 403
    assert client.get(f"/v1/invoices/{created.json['id']}", headers=reader).status_code == 200
    assert client.get("/v1/payouts", headers=reader).status_code == 403
    assert client.get("/v1/settlements", headers=reader).status_code == 403
    assert client.post("/v1/settlements/run", json={}, headers=idem(reader)).status_code == 403
    assert client.get("/v1/webhook-endpoints", headers=reader).status_code == 403
    assert (
        client.put(f"/v1/merchants/{shop.id}/store", json={"rails": ["usdt-tron"]}, headers=reader).status_code == 403
    )


def test_personal_users_and_strangers_are_kept_out(client, auth, shop):
    """No credentials is 401; a personal user is 403 on merchant resources; only admins retry payouts."""
    assert client.get("/v1/invoices").status_code == 401
    personal = auth.user("personal")
    for path in ("/v1/invoices", "/v1/payouts", "/v1/settlements", "/v1/webhook-endpoints"):
        assert client.get(path, headers=personal).status_code == 403, path
    retry = client.post("/v1/payouts/po_000001/retry", headers=idem(shop.headers))
    assert retry.status_code == 403 and "admin" in retry.json["detail"]


def test_an_admin_creates_an_invoice_for_a_named_merchant(client, auth, shop):
    """An admin names the merchant it invoices for; without a name it is a 422 on merchant_id."""
    admin = auth.user("admin")
    body = {"amount": "100", "currency": "KES"}
    unnamed = client.post("/v1/invoices", json=body, headers=admin)
    assert unnamed.status_code == 422 and unnamed.json["errors"][0]["field"] == "merchant_id"
    created = client.post("/v1/invoices", json={**body, "merchant_id": shop.id}, headers=admin)
    assert created.status_code == 201 and created.json["merchant_id"] == shop.id
    spoofed = client.post("/v1/invoices", json={**body, "merchant_id": "mer_other"}, headers=shop.headers)
    assert spoofed.status_code == 404
