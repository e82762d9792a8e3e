"""Review F9: a store tolerates at most a few percent of underpayment, and an invoice settled under its price says so."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, ROUND_UP, Decimal

import jsonschema_rs
from cryptopay.core.money import Money
from cryptopay.core.payments.model import MAX_TOLERANCE_PERCENT


def test_a_tolerance_above_the_cap_is_a_422_naming_the_field_and_the_cap_is_declared(client, shop):
    """5 % is the most a store may tolerate; 5.01, 10 and 99.99 are refused on tolerance_percent, as declared."""
    put = f"/v1/merchants/{shop.id}/store"
    for percent in ("5.01", "10", "99.99"):
        refused = client.put(put, json={"rails": ["usdt-tron"], "tolerance_percent": percent}, headers=shop.headers)
        assert refused.status_code == 422 and [e["field"] for e in refused.json["errors"]] == ["tolerance_percent"]
    assert shop.store(["usdt-tron"], tolerance_percent="5")["tolerance_percent"] == "5"
    schema = client.get("/openapi.json").json["components"]["schemas"]["StoreBody"]["properties"]["tolerance_percent"]
    assert MAX_TOLERANCE_PERCENT == 5 and "0 to 5" in schema["description"]


def test_an_invoice_settled_within_tolerance_shows_its_shortfall_in_the_view_and_the_webhook(
    client, stack, hooks, shop
):
    """An invoice paid 96 % with a 5 % tolerance settles as ``paid_under_tolerated``, the view and the
    invoice.settled delivery carry the KES 40 unpaid, and that delivery validates against the event catalogue."""
    shop.store(["usdt-tron"], tolerance_percent="5")
    client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/hooks"}, headers=shop.stepped)
    invoice = shop.invoice("1000")
    due = invoice["payment_options"][0]["amount"]
    paid = _share(due, "0.96")  # rounded down to USDT's places: a hair under 96 %
    stack.pay(invoice["id"], Money.of(paid, "USDT"))
    unpaid = 1000 * (1 - Decimal(paid) / Decimal(due))
    shortfall = str(unpaid.quantize(Decimal("0.01"), rounding=ROUND_UP))
    assert Decimal("40.00") <= Decimal(shortfall) <= Decimal("40.01")
    stack.confirm(3)
    view = client.get(f"/v1/invoices/{invoice['id']}", headers=shop.headers).json
    assert (view["state"], view["exception"]) == ("settled", "paid_under_tolerated")
    assert view["shortfall"] == {"amount": shortfall, "asset": "KES"}
    hooks.relay()
    hooks.run_jobs()
    bodies = [json.loads(sent.body) for sent in hooks.sender.sent]
    (settled,) = [b for b in bodies if b["type"] == "invoice.settled"]
    assert (settled["data"]["exception"], settled["data"]["shortfall"]) == ("paid_under_tolerated", shortfall)
    catalogue = client.get("/openapi.json").json["webhooks"]["invoice.settled"]
    schema = catalogue["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(settled)] == []
    document = client.get("/openapi.json").json
    enum = document["components"]["schemas"]["InvoiceView"]["properties"]["exception"]["enum"]
    assert "paid_under_tolerated" in enum


def _share(due: str, fraction: str) -> str:
    return str((Decimal(due) * Decimal(fraction)).quantize(Decimal("0.000001"), rounding=ROUND_DOWN))
