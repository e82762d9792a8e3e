"""The merchant journey over HTTP on the payment fakes: store, invoice, payment, settlement, M-Pesa payout result."""

from __future__ import annotations

from decimal import Decimal

from cryptopay.core.money import Money
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.http_payments.payments_support import (
    INSTANT,
    Shop,
    daraja_body,
    hook_path,
    idem,
    key_headers,
    submit_a_payout,
)
from tests.support.services import allow_daraja_sources


def test_a_merchant_is_paid_in_usdt_and_settled_in_shillings(client, auth, stack, shop):
    """KES 5,000 paid in USDT on Tron settles, is sold at a locked quote and paid out over B2C, all via the API."""
    shop.store(["usdt-tron", "usdt-ethereum"])
    store = shop.set_fee("1")
    assert store["merchant_fees"][0]["percent"] == "1" and store["invoice_window_minutes"] == 15
    secret = auth.api_key(shop.headers, shop.id, ["invoices:write", "invoices:read", "payouts:read"])
    body = {"amount": "5000", "currency": "KES", "rails": ["usdt-tron"], "order_id": "ORD-1"}
    created = client.post("/v1/invoices", json=body, headers=key_headers(secret))
    assert created.status_code == 201, created.json
    invoice = created.json
    assert invoice["state"] == "new" and invoice["price"] == {"amount": "5000.00", "asset": "KES"}
    assert invoice["quote"]["pair"] == "USDT/KES" and Decimal(invoice["quote"]["bid"]) < 130
    (option,) = invoice["payment_options"]
    assert option["rail"] == "usdt-tron" and option["asset"] == "USDT" and option["chain_id"] is None
    assert option["uri"].startswith(f"tron:{option['address']}?token=") and isinstance(option["amount"], str)

    stack.pay(invoice["id"])
    stack.confirm(3)
    read = client.get(f"/v1/invoices/{invoice['id']}", headers=key_headers(secret))
    assert read.json["state"] == "settled" and read.json["exception"] == "none"

    run = client.post("/v1/settlements/run", json={}, headers=idem(shop.headers))
    assert run.status_code == 200, run.json
    (outcome,) = run.json["runs"]
    assert outcome["settlement"]["state"] == "paying" and len(outcome["payouts"]) == 1
    payout = outcome["payouts"][0]
    assert payout["state"] == "planned" and payout["destination"] == "254712345678"

    stack.payouts.submit_payouts()  # the worker's payouts.start job
    (delivery,) = stack.mpesa.outbox
    answer = client.post(hook_path(delivery.url), data=daraja_body(delivery.payload), content_type="application/json")
    assert answer.status_code == 200 and answer.json == {"ResultCode": 0, "ResultDesc": "Accepted"}

    payouts = client.get("/v1/payouts", headers=key_headers(secret)).json["data"]
    assert [(p["id"], p["state"]) for p in payouts] == [(payout["id"], "completed")]
    assert payouts[0]["receipt"] and payouts[0]["amount"]["asset"] == "KES"
    settlements = client.get("/v1/settlements", headers=shop.headers).json["data"]
    assert settlements[0]["state"] == "completed" and settlements[0]["converted"]["asset"] == "USDT"
    assert stack.books_balanced()
    assert stack.balance("revenue:merchant_fee:USDT") != Money.zero("USDT")


def test_a_repeated_or_forged_payout_result_moves_nothing(client, stack, shop):
    """A duplicate result is acknowledged and changes nothing; a wrong token is a 403 problem without internals."""
    submit_a_payout(client, stack, shop)
    (delivery,) = stack.mpesa.outbox
    path, body = hook_path(delivery.url), daraja_body(delivery.payload)

    forged = client.post(path.rsplit("/", 1)[0] + "/not-the-token", data=body, content_type="application/json")
    assert forged.status_code == 403 and forged.content_type == "application/problem+json"
    assert "Traceback" not in forged.get_data(as_text=True) and forged.json["code"] == "forbidden"
    assert client.get("/v1/payouts", headers=shop.headers).json["data"][0]["state"] == "submitted"

    for _ in range(2):
        answer = client.post(path, data=body, content_type="application/json")
        assert answer.status_code == 200 and answer.json["ResultCode"] == 0
    balances = stack.ledger.trial_balance()
    again = client.post(path, data=body, content_type="application/json")
    assert again.status_code == 200 and stack.ledger.trial_balance() == balances
    assert client.get("/v1/payouts", headers=shop.headers).json["data"][0]["state"] == "completed"
    assert stack.books_balanced()


def test_a_timeout_callback_makes_the_payout_unknown_until_status_answers(client, stack, shop):
    """A queue-timeout callback makes the payout unknown; the Transaction Status answer on its own hook completes it."""
    submit_a_payout(client, stack, shop)
    result = stack.mpesa.outbox.pop()
    timeout_url = stack.mpesa.transaction(result.payload["Result"]["OriginatorConversationID"]).timeout_url
    timeout = {"Result": {**result.payload["Result"], "ResultCode": "QueueTimeout", "ResultDesc": "queue timeout"}}
    wrong = client.post(hook_path(result.url).replace("/result/", "/timeout/"), data=daraja_body(timeout))
    assert wrong.status_code == 403  # the result URL's token is not the timeout URL's
    answer = client.post(hook_path(timeout_url or ""), data=daraja_body(timeout), content_type="application/json")
    assert answer.status_code == 200
    assert client.get("/v1/payouts", headers=shop.headers).json["data"][0]["state"] == "unknown"
    stack.payouts.query_stale_payouts()
    (status,) = stack.mpesa.outbox
    assert "/status/result/" in status.url
    answer = client.post(hook_path(status.url), data=daraja_body(status.payload), content_type="application/json")
    assert answer.status_code == 200
    assert client.get("/v1/payouts", headers=shop.headers).json["data"][0]["state"] == "completed"


def test_unreadable_callbacks_are_a_problem_not_a_crash(client):
    """A body that is not a Daraja payload is a 422 problem; an unknown token is a 403 whatever the body names."""
    answer = client.post("/hooks/daraja/payouts/result/tok", data="[1, 2]", content_type="application/json")
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    stray = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "ok",
            "OriginatorConversationID": "nobody",
            "ConversationID": "AG_1",
            "TransactionID": "SBX1",
        }
    }
    answer = client.post("/hooks/daraja/payouts/result/tok", data=daraja_body(stray), content_type="application/json")
    assert answer.status_code == 403 and answer.json["code"] == "forbidden"


def test_creating_an_invoice_twice_with_one_key_makes_one_invoice(client, shop, stack):
    """The same Idempotency-Key returns the first invoice; without a key each POST is a new invoice."""
    body = {"amount": "1500", "currency": "KES"}
    first = client.post("/v1/invoices", json=body, headers=idem(shop.headers, "order-77"))
    second = client.post("/v1/invoices", json=body, headers=idem(shop.headers, "order-77"))
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"] and second.headers["Idempotent-Replayed"] == "true"
    assert len(first.json["payment_options"]) == 2
    other = client.post("/v1/invoices", json={**body, "amount": "1600"}, headers=idem(shop.headers, "order-77"))
    assert other.status_code == 409 and other.json["code"] == "idempotency_conflict"
    assert client.post("/v1/invoices", json=body, headers=shop.headers).json["id"] != first.json["id"]
    listing = client.get("/v1/invoices?limit=1", headers=shop.headers).json
    assert len(listing["data"]) == 1 and listing["next_cursor"]
    rest = client.get(f"/v1/invoices?limit=5&cursor={listing['next_cursor']}", headers=shop.headers).json
    ids = [i["id"] for i in listing["data"] + rest["data"]]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True) and rest["next_cursor"] is None


def test_a_usdt_priced_invoice_has_no_quote_and_an_eip681_uri(client, shop):
    """An invoice in USDT on Ethereum asks exactly the price, with the token contract and chain id in its option."""
    invoice = shop.invoice("25.5", "USDT", rails=["usdt-ethereum"])
    (option,) = invoice["payment_options"]
    assert invoice["quote"] is None and option["amount"] == "25.500000"
    assert option["chain_id"] == 1 and option["token_contract"].startswith("0x")
    assert option["uri"] == (
        f"ethereum:{option['token_contract']}@1/transfer?address={option['address']}&uint256=25500000"
    )


def test_bad_invoice_requests_are_problems_naming_the_field(client, shop):
    """A float, bad or non-positive amount, a missing currency, a bad rail or unknown field: 422 naming the field."""
    cases = [
        ({"amount": 5000.5, "currency": "KES"}, "amount"),
        ({"amount": "5000"}, "currency"),
        ({"amount": "5000", "currency": "EUR"}, "currency"),
        ({"amount": "5000", "currency": "KES", "rails": ["usdt-solana"]}, "rails"),
        ({"amount": "5000", "currency": "KES", "rails": ["btc-bitcoin"]}, "rails"),
        ({"amount": "5000", "currency": "KES", "rails": []}, "rails"),
        ({"amount": "50.001", "currency": "KES"}, "amount"),
        ({"amount": "-5", "currency": "KES"}, "amount"),
        ({"amount": "0", "currency": "KES"}, "amount"),
        ({"amount": "5000", "currency": "KES", "order_id": "x" * 101}, "order_id"),
    ]
    for body, field in cases:
        response = client.post("/v1/invoices", json=body, headers=shop.headers)
        assert response.status_code == 422, (body, response.json)
        assert response.content_type == "application/problem+json"
        assert field in [e["field"] for e in response.json["errors"]], (body, response.json)
    assert client.get("/v1/invoices", headers=shop.headers).json["data"] == []


def test_invoice_metadata_is_kept_and_bounded(client, shop):
    """The shop's metadata comes back as given; more than 20 keys is a 422 problem that creates nothing."""
    body = {"amount": "5000", "currency": "KES", "metadata": {"cart": "c-88", "customer": "Wanjiru"}}
    created = client.post("/v1/invoices", json=body, headers=shop.headers)
    assert created.status_code == 201, created.json
    assert created.json["metadata"] == {"cart": "c-88", "customer": "Wanjiru"}
    fetched = client.get(f"/v1/invoices/{created.json['id']}", headers=shop.headers)
    assert fetched.json["metadata"] == {"cart": "c-88", "customer": "Wanjiru"}
    too_many = {"amount": "5000", "currency": "KES", "metadata": {f"k{i}": "v" for i in range(21)}}
    refused = client.post("/v1/invoices", json=too_many, headers=shop.headers)
    assert refused.status_code == 422 and "metadata" in refused.json["detail"]
    assert len(client.get("/v1/invoices", headers=shop.headers).json["data"]) == 1


def test_an_invoice_needs_store_settings_first(client, auth):
    """A merchant without store settings is refused with a problem saying how to set them."""
    bare = Shop(auth, client, "New Ltd", INSTANT)
    response = client.post("/v1/invoices", json={"amount": "100", "currency": "KES"}, headers=bare.headers)
    assert response.status_code == 422 and "/store" in response.json["detail"]


def test_the_qr_code_is_an_svg_of_the_rails_uri(client, shop):
    """qr.svg is image/svg+xml for the chosen rail; an unknown rail for the invoice is a 422 problem."""
    invoice = shop.invoice()
    option = invoice["payment_options"][1]
    response = client.get(option["qr_svg_url"], headers=shop.headers)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True).lstrip().startswith("<?xml") and b"<svg" in response.data
    default = client.get(f"/v1/invoices/{invoice['id']}/qr.svg", headers=shop.headers)
    assert default.status_code == 200 and default.data != response.data
    bad = client.get(f"/v1/invoices/{invoice['id']}/qr.svg?rail=btc-bitcoin", headers=shop.headers)
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "rail"


def test_a_source_allowlist_refuses_callbacks_from_elsewhere(app, client, stack, shop):
    """With an allowlist set, a callback from another address is a 403 problem; one from Safaricom is applied."""
    allow_daraja_sources(app, "safaricom")
    submit_a_payout(client, stack, shop)
    (delivery,) = stack.mpesa.outbox
    path, body = hook_path(delivery.url), daraja_body(delivery.payload)
    stranger = client.post(path, data=body, content_type="application/json")
    assert stranger.status_code == 403 and stranger.content_type == "application/problem+json"
    assert client.get("/v1/payouts", headers=shop.headers).json["data"][0]["state"] == "submitted"
    safaricom = {"REMOTE_ADDR": "196.201.214.200"}
    answer = client.post(path, data=body, content_type="application/json", environ_base=safaricom)
    assert answer.status_code == 200
    assert client.get("/v1/payouts", headers=shop.headers).json["data"][0]["state"] == "completed"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cents=st.integers(min_value=1, max_value=10**9))
def test_the_amount_due_sold_at_the_bid_covers_the_price_and_no_more(client, shop, cents):
    """For any KES price, the USDT asked, sold at the quote's bid, covers the price, and one micro-USDT less would not.
    (The store sets bounds of its own, so prices outside the default KES 10 to 1,000,000 are still tried.)"""
    shop.store(["usdt-tron", "usdt-ethereum"], min_invoice_amount="0.01", max_invoice_amount="10000000")
    price = Decimal(cents).scaleb(-2)
    invoice = client.post("/v1/invoices", json={"amount": str(price), "currency": "KES"}, headers=shop.headers).json
    assert Decimal(invoice["price"]["amount"]) == price
    bid = Decimal(invoice["quote"]["bid"])
    for option in invoice["payment_options"]:
        due = Decimal(option["amount"])
        assert due * bid >= price > (due - Decimal("0.000001")) * bid
