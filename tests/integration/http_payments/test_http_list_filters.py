"""Review R20 lists: the merchant's invoices filtered by state and by order id (an unknown state is a 422 on
``state``), and every refund of the merchant (``GET /v1/refunds``), newest first, paged, never another merchant's."""

from __future__ import annotations

from cryptopay.core.money import Money

from tests.integration.http_payments.payments_support import key_headers

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _ids(answer) -> list[str]:
    assert answer.status_code == 200, answer.get_json()
    return [item["id"] for item in answer.json["data"]]


def test_invoices_are_filtered_by_state_and_order_id(client, stack, shop, rival):
    first = shop.invoice(order_id="ORD-1", rails=["usdt-tron"])
    second = shop.invoice(order_id="ord-1", rails=["usdt-tron"])
    other = shop.invoice(order_id="ORD-2", rails=["usdt-tron"])
    rival.invoice(order_id="ORD-1", rails=["usdt-tron"])
    stack.pay(other["id"])
    stack.confirm(3)

    listed = client.get("/v1/invoices?order_id=ORD-1", headers=shop.headers)
    assert _ids(listed) == [second["id"], first["id"]]  # the shop's reference, compared without case
    assert _ids(client.get("/v1/invoices?state=settled", headers=shop.headers)) == [other["id"]]
    assert _ids(client.get("/v1/invoices?state=new&order_id=ORD-2", headers=shop.headers)) == []
    page = client.get("/v1/invoices?state=new&limit=1", headers=shop.headers)
    assert _ids(page) == [second["id"]] and page.json["next_cursor"]
    rest = client.get(f"/v1/invoices?state=new&limit=1&cursor={page.json['next_cursor']}", headers=shop.headers)
    assert _ids(rest) == [first["id"]]
    for bad in ("state=paid", "state=", "order_id=", "order_id=" + "x" * 101):
        refused = client.get(f"/v1/invoices?{bad}", headers=shop.headers)
        assert refused.status_code == 422 and refused.content_type == "application/problem+json", bad
        assert refused.json["errors"][0]["field"] == bad.split("=")[0]


def test_the_merchants_refunds_are_listed_newest_first_by_key_scope(client, auth, stack, shop, rival):
    made = []
    for merchant in (shop, shop, rival):
        invoice = merchant.invoice(rails=["usdt-tron"])
        stack.pay(invoice["id"], Money.of("100", "USDT"))  # more than due: the rest is owed back
        stack.confirm(3)
        made.append(stack.refunds.refund(invoice["id"], address=CUSTOMER, requested_by="ops:test").id)
    reader = key_headers(auth.api_key(shop.headers, shop.id, ["refunds:read"]))
    blind = key_headers(auth.api_key(shop.headers, shop.id, ["invoices:read"]))

    page = client.get("/v1/refunds?limit=1", headers=reader)
    assert _ids(page) == [made[1]] and page.json["next_cursor"]
    rest = client.get(f"/v1/refunds?limit=1&cursor={page.json['next_cursor']}", headers=reader)
    assert _ids(rest) == [made[0]] and rest.json["next_cursor"] is None
    assert _ids(client.get("/v1/refunds", headers=rival.headers)) == [made[2]]
    assert client.get("/v1/refunds", headers=blind).status_code == 403  # the key's scopes decide
    assert client.get("/v1/refunds?cursor=inv_1", headers=reader).status_code == 422
