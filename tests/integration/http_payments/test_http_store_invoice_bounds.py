"""Issue 18: a store's minimum and maximum invoice amounts (KES), checked when saved and enforced per invoice."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("bounds", "field"),
    [
        ({"min_invoice_amount": "500", "max_invoice_amount": "100"}, "min_invoice_amount"),
        ({"min_invoice_amount": "0"}, "min_invoice_amount"),
        ({"max_invoice_amount": "-5"}, "max_invoice_amount"),
        ({"max_invoice_amount": "1.001"}, "max_invoice_amount"),
        ({"min_invoice_amount": 100}, "min_invoice_amount"),
    ],
)
def test_a_store_with_bad_invoice_bounds_is_refused_and_left_as_it_was(client, shop, bounds, field):
    """A minimum above the maximum, a bound not positive, finer than a cent or not a string is a 422 naming it."""
    path = f"/v1/merchants/{shop.id}/store"
    before = client.get(path, headers=shop.headers).json
    response = client.put(path, json={"rails": ["usdt-tron"], **bounds}, headers=shop.headers)
    assert response.status_code == 422, response.json
    assert field in [e["field"] for e in response.json.get("errors", [])] + [response.json.get("field")]
    assert client.get(path, headers=shop.headers).json == before


def test_the_store_bounds_are_saved_and_shown(client, shop):
    """Bounds are stored and read back in KES; a store saved without them has none."""
    saved = shop.store(["usdt-tron"], min_invoice_amount="100", max_invoice_amount="250000.50")
    assert (saved["min_invoice_amount"], saved["max_invoice_amount"]) == ("100", "250000.50")
    assert client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json == saved
    cleared = shop.store(["usdt-tron"])
    assert cleared["min_invoice_amount"] is None and cleared["max_invoice_amount"] is None


def test_an_invoice_outside_the_store_bounds_is_a_422_naming_the_bound_and_nothing_is_stored(client, shop):
    """Below the minimum or above the maximum is refused with its own code and the bound; within is created."""
    shop.store(["usdt-tron"], min_invoice_amount="100", max_invoice_amount="1000")
    low = client.post("/v1/invoices", json={"amount": "99.99", "currency": "KES"}, headers=shop.headers)
    high = client.post("/v1/invoices", json={"amount": "1000.01", "currency": "KES"}, headers=shop.headers)
    assert (low.status_code, low.json["code"]) == (422, "below_store_minimum")
    assert (high.status_code, high.json["code"]) == (422, "above_store_maximum")
    assert "100.00" in low.json["detail"] and "1000.00" in high.json["detail"]
    assert client.get("/v1/invoices", headers=shop.headers).json["data"] == []
    shop.invoice("100")
    shop.invoice("1000")
    assert len(client.get("/v1/invoices", headers=shop.headers).json["data"]) == 2


def test_an_invoice_priced_in_crypto_is_bounded_by_its_worth_in_shillings(client, shop):
    """A USDT price is valued in KES at the current quote before the store's maximum is applied."""
    shop.store(["usdt-tron"], max_invoice_amount="1000")
    body = {"amount": "1000", "currency": "USDT"}
    response = client.post("/v1/invoices", json=body, headers=shop.headers)
    assert (response.status_code, response.json["code"]) == (422, "above_store_maximum")
    assert "1000.00" in response.json["detail"]


def test_a_store_without_bounds_gets_the_payment_links_defaults_each_a_422_naming_the_bound(client, shop):
    """Review H15: KES 0.01 and KES 999,999,999,999,999,999 (and USDT 0.5, USDT 10,001) are refused with the bound
    named (``link_amounts.LINK_AMOUNTS``: KES 10 to 1,000,000, USDT 1 to 10,000), nothing stored; a bound the store
    sets replaces that default; the bounds themselves are made."""
    shop.store(["usdt-tron"])
    refused = {
        ("0.01", "KES"): ("amount_below_minimum", "10.00 KES"),
        ("999999999999999999", "KES"): ("amount_above_maximum", "1000000.00 KES"),
        ("0.5", "USDT"): ("amount_below_minimum", "1.000000 USDT"),
        ("10001", "USDT"): ("amount_above_maximum", "10000.000000 USDT"),
    }
    for (amount, currency), (code, bound) in refused.items():
        response = client.post("/v1/invoices", json={"amount": amount, "currency": currency}, headers=shop.headers)
        assert (response.status_code, response.json["code"]) == (422, code), response.json
        assert bound in response.json["detail"] and response.json["errors"][0]["field"] == "amount"
    assert client.get("/v1/invoices", headers=shop.headers).json["data"] == []
    shop.invoice("10")
    shop.invoice("1000000")
    shop.store(["usdt-tron"], min_invoice_amount="1")  # the store's own minimum: KES 5 is its business
    shop.invoice("5")
    assert len(client.get("/v1/invoices", headers=shop.headers).json["data"]) == 3
