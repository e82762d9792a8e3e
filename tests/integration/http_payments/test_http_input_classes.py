"""Issue 18 (#12.6): every bad input is a specific 4xx problem+json that stores nothing, whatever the field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from tests.integration.http_payments.payments_support import Shop, idem

REFUSED_AMOUNTS = ["1,5", "1,,0", "5_000", "1e3", " 100", "100 ", "100.", ".5", "+100", "-100", "١٠٠", "１００"]
REFUSED_AMOUNTS += ["9" * 26, "1" * 29, "1e30", "NaN", "Infinity", "0x10", ""]


def _invoices(client: FlaskClient, shop: Shop) -> list[str]:
    listed = client.get("/v1/invoices", headers=shop.headers)
    assert listed.status_code == 200, listed.json
    return [i["id"] for i in listed.json["data"]]


@pytest.mark.parametrize("amount", REFUSED_AMOUNTS)
def test_an_amount_outside_the_published_pattern_is_refused_and_creates_nothing(client, shop, amount):
    """Amounts with separators, exponents, spaces, signs, non-ASCII digits or too many digits are a 422."""
    response = client.post("/v1/invoices", json={"amount": amount, "currency": "KES"}, headers=shop.headers)
    assert response.status_code == 422, (amount, response.json)
    assert response.content_type == "application/problem+json"
    assert response.json["errors"][0]["field"] == "amount"
    assert _invoices(client, shop) == []


@pytest.mark.parametrize("amount", ["100", "100.50", "0.5", "12345678"])
def test_amounts_in_the_published_pattern_are_accepted(client, shop, amount):
    """Plain digits with an optional fraction create an invoice of exactly that amount (the store sets its own
    bounds: KES 0.5 and 12,345,678 are outside the defaults a store without bounds gets)."""
    shop.store(["usdt-tron", "usdt-ethereum"], min_invoice_amount="0.01", max_invoice_amount="100000000")
    created = shop.invoice(amount)
    assert Decimal(created["price"]["amount"]) == Decimal(amount)


@pytest.mark.parametrize("text", ["\ud800", "a\x00b", "tab\there", "line\nbreak", "\x7f", "\x85"])
def test_order_id_with_a_surrogate_or_control_character_is_refused_before_anything_is_written(client, shop, text):
    """A lone surrogate or control character in order_id is a 422 and the listing keeps working."""
    response = client.post(
        "/v1/invoices", json={"amount": "100", "currency": "KES", "order_id": text}, headers=shop.headers
    )
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["field"] == "order_id"
    assert _invoices(client, shop) == []


@pytest.mark.parametrize("metadata", [["a"], "cart=1", {"a": 1}, {"a": {"b": "c"}}, {"": "x"}, {"k" * 41: "v"}])
def test_metadata_of_the_wrong_shape_is_a_422(client, shop, metadata):
    """Metadata must be an object of short string keys and string values; anything else is refused."""
    body = {"amount": "100", "currency": "KES", "metadata": metadata}
    response = client.post("/v1/invoices", json=body, headers=shop.headers)
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["field"] == "metadata"
    assert _invoices(client, shop) == []


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_a_400(client, shop, depth):
    """A body nesting deeper than the limit (even past Python's recursion limit) is a 400 problem."""
    raw = '{"amount": "1", "currency": "KES", "metadata": ' + "[" * depth + "]" * depth + "}"
    response = client.post("/v1/invoices", data=raw, content_type="application/json", headers=shop.headers)
    assert response.status_code == 400, response.json
    assert response.content_type == "application/problem+json"


def test_a_repeated_json_key_is_a_400(client, shop):
    """Two values for one key are ambiguous: refused, not silently the last one."""
    raw = '{"amount": "1", "amount": "1000", "currency": "KES"}'
    response = client.post("/v1/invoices", data=raw, content_type="application/json", headers=shop.headers)
    assert response.status_code == 400 and "amount" in response.json["detail"]
    assert _invoices(client, shop) == []


def test_invalid_text_in_a_path_or_query_is_a_422(client, shop):
    """A NUL in a path id or a query value is refused as input, the same on every database."""
    assert client.get("/v1/invoices/inv%00x", headers=shop.headers).status_code == 422
    assert client.get("/v1/invoices?merchant_id=%00", headers=shop.headers).status_code == 422


@pytest.mark.parametrize("key", ["", " " * 256, "caf\u00e9", "tab\tkey"])
def test_one_idempotency_key_rule_everywhere(client, shop, key):
    """An empty, over-long or non-printable-ASCII key is a 400 on every keyed operation, never "no key"."""
    body = {"amount": "100", "currency": "KES"}
    headers = {**shop.headers, "Idempotency-Key": key}
    assert client.post("/v1/invoices", json=body, headers=headers).status_code == 400
    assert client.post("/v1/settlements/run", json={}, headers=headers).status_code == 400
    assert _invoices(client, shop) == []


def test_an_idempotency_key_is_scoped_to_the_merchant_not_the_credential(client, shop, auth):
    """The merchant's login and its API key sending the same key create one invoice."""
    secret = auth.api_key(shop.headers, shop.id, ["invoices:write", "invoices:read"])
    body = {"amount": "100", "currency": "KES"}
    first = client.post("/v1/invoices", json=body, headers=idem(shop.headers, "order-7"))
    second = client.post("/v1/invoices", json=body, headers=idem({"X-Api-Key": secret}, "order-7"))
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json["id"] == second.json["id"]
    assert len(_invoices(client, shop)) == 1


def test_a_request_refused_by_validation_does_not_consume_its_key(client, shop):
    """After a 422, the same key with a corrected body creates the invoice."""
    bad = client.post("/v1/invoices", json={"amount": "1,5", "currency": "KES"}, headers=idem(shop.headers, "k1"))
    assert bad.status_code == 422
    good = client.post("/v1/invoices", json={"amount": "15", "currency": "KES"}, headers=idem(shop.headers, "k1"))
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers
