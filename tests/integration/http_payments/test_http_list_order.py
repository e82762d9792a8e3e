"""Issue 18: every list is newest first and walks by the same cursor rules (each item once, no gaps, then null)."""

from __future__ import annotations

import pytest

from tests.integration.http_payments.payments_support import idem, key_headers

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _walk(client, path, headers):
    """Every id of a list, page by page with limit=1, following next_cursor until it is null."""
    ids, cursor = [], None
    for _ in range(50):
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = client.get(path, query_string=query, headers=headers)
        assert page.status_code == 200, page.json
        ids += [item["id"] for item in page.json["data"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError(f"{path}: the cursor walk does not end")


def _invoices(client, auth, shop, hooks, stack):
    return "/v1/invoices", [shop.invoice()["id"] for _ in range(3)]


def _api_keys(client, auth, shop, hooks, stack):
    path = f"/v1/merchants/{shop.id}/api-keys"
    made = []
    for n in range(3):
        body = {"name": f"till {n}", "scopes": ["invoices:read"]}
        response = client.post(path, json=body, headers=shop.stepped)
        assert response.status_code == 201, response.json
        made.append(response.json["key"]["id"])
    return path, made


def _endpoints(client, auth, shop, hooks, stack):
    made = []
    for n in range(3):
        body = {"url": f"https://duka.example/hooks/{n}"}
        made.append(client.post("/v1/webhook-endpoints", json=body, headers=shop.stepped).json["endpoint"]["id"])
    return "/v1/webhook-endpoints", made


def _deliveries(client, auth, shop, hooks, stack):
    client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/hooks"}, headers=shop.stepped)
    made = []
    for _ in range(3):
        shop.invoice()
        made += hooks.relay()
    return "/v1/webhook-deliveries", made


def _settled_days(client, auth, shop, stack, days=3):
    """One settlement (with its one payout) a day for ``days`` days, each after a paid invoice; an API key, as the
    days outlive a login, and the lists are then read with it (the same merchant)."""
    scopes = ["invoices:write", "invoices:read", "settlements:read", "settlements:write", "payouts:read"]
    shop.headers = key_headers(auth.api_key(shop.headers, shop.id, scopes))
    runs = []
    for _ in range(days):
        stack.pay(shop.invoice()["id"])
        stack.confirm(3)
        run = client.post("/v1/settlements/run", json={}, headers=idem(shop.headers))
        assert run.status_code == 200, run.json
        runs += run.json["runs"]
        stack.clock.advance(days=1)
    return runs


def _settlements(client, auth, shop, hooks, stack):
    return "/v1/settlements", [run["settlement"]["id"] for run in _settled_days(client, auth, shop, stack)]


def _payouts(client, auth, shop, hooks, stack):
    return "/v1/payouts", [
        payout["id"] for run in _settled_days(client, auth, shop, stack) for payout in run["payouts"]
    ]


def _payment_links(client, auth, shop, hooks, stack):
    body = {"description": "Mandazi", "amount": "50"}
    return "/v1/payment-links", [
        client.post("/v1/payment-links", json=body, headers=shop.headers).json["id"] for _ in range(3)
    ]


def _refunds(client, auth, shop, hooks, stack):
    invoice = shop.invoice(rails=["usdt-tron"])
    stack.pay(invoice["id"])
    stack.confirm(3)
    path, body = f"/v1/invoices/{invoice['id']}/refunds", {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
    made = [client.post(path, json=body, headers=idem(shop.stepped)).json["id"] for _ in range(3)]
    return path, made


@pytest.mark.parametrize(
    "make",
    [
        _invoices,
        _api_keys,
        _endpoints,
        _deliveries,
        _settlements,
        _payouts,
        _payment_links,
        _refunds,
    ],
)
def test_a_list_is_newest_first_and_its_cursor_walk_sees_each_item_once(client, auth, shop, hooks, stack, make):
    """The list shows the newest item first, and limit=1 pages in that order end with a null cursor."""
    path, created = make(client, auth, shop, hooks, stack)
    assert len(created) >= 3
    first_page = [item["id"] for item in client.get(path, headers=shop.headers).json["data"]]
    walked = _walk(client, path, shop.headers)
    assert walked == first_page and len(set(walked)) == len(walked)
    assert [i for i in walked if i in created] == list(reversed(created))
