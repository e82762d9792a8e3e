"""R14-18: ``GET /v1/invoices/{id}`` (and the list) says what an invoice received: each payment (rail, amount,
transaction, log index, paying address, depth, state, late) and, per rail, ``received`` and ``overpaid``."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import jsonschema_rs
from cryptopay.core.money import Money


def _share(due: str, fraction: str) -> Money:
    return Money.of((Decimal(due) * Decimal(fraction)).quantize(Decimal("0.000001"), rounding=ROUND_DOWN), "USDT")


def test_an_overpaid_an_underpaid_and_an_exact_invoice_say_what_they_received(client, stack, shop):
    shop.store(["usdt-tron"], tolerance_percent="1")
    over, under, exact = shop.invoice("2000"), shop.invoice("2000"), shop.invoice("2000")
    dues = {i["id"]: i["payment_options"][0]["amount"] for i in (over, under, exact)}
    assert over["payments"] == [] and over["payment_options"][0]["received"] == {"amount": "0.000000", "asset": "USDT"}
    paid_over = stack.pay(over["id"], _share(dues[over["id"]], "1.05"), sender="TPayerOver")
    paid_under = stack.pay(under["id"], _share(dues[under["id"]], "0.997"), sender="TPayerUnder")
    paid_exact = stack.pay(exact["id"], sender="TPayerExact")
    stack.confirm(3)

    views = {i["id"]: client.get(f"/v1/invoices/{i['id']}", headers=shop.headers).json for i in (over, under, exact)}
    for invoice, paid, exception in (
        (over, paid_over, "paid_over"),
        (under, paid_under, "paid_under_tolerated"),
        (exact, paid_exact, "none"),
    ):
        view = views[invoice["id"]]
        assert (view["state"], view["exception"]) == ("settled", exception)
        (payment,) = view["payments"]
        amount = {"amount": format(paid.amount.amount, "f"), "asset": "USDT"}
        assert payment["amount"] == amount and payment["rail"] == "usdt-tron"
        assert (payment["tx_hash"], payment["log_index"], payment["from_address"]) == (
            paid.tx_hash,
            0,
            paid.from_address,
        )
        assert payment["state"] == "confirmed" and payment["confirmations"] >= 1 and payment["late"] is False
        (option,) = view["payment_options"]
        assert option["received"] == amount
    excess = paid_over.amount - Money.of(dues[over["id"]], "USDT")
    assert excess.is_positive()
    assert views[over["id"]]["payment_options"][0]["overpaid"] == {
        "amount": format(excess.amount, "f"),
        "asset": "USDT",
    }
    assert views[under["id"]]["payment_options"][0]["overpaid"]["amount"] == "0.000000"
    assert views[exact["id"]]["payment_options"][0]["overpaid"]["amount"] == "0.000000"
    assert views[under["id"]]["shortfall"]["asset"] == "KES"

    # the list says the same, read with the invoices themselves (the payments are part of each invoice's record)
    listed = {i["id"]: i for i in client.get("/v1/invoices", headers=shop.headers).json["data"]}
    assert all(listed[key]["payments"] == view["payments"] for key, view in views.items())
    assert all(listed[key]["payment_options"] == view["payment_options"] for key, view in views.items())

    schema = client.get("/openapi.json").json
    validator = jsonschema_rs.validator_for({**schema["components"]["schemas"]["InvoiceView"], **_defs(schema)})
    assert [e.message for e in validator.iter_errors(views[over["id"]])] == []


def _defs(document: dict) -> dict:
    """The document's components, so the schema's ``#/components/schemas/...`` references resolve."""
    return {"components": document["components"]}
