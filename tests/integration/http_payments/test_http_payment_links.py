"""Payment links over HTTP: the merchant's routes (scopes, tenancy, newest first) and the public use of a link."""

from __future__ import annotations

import re

from tests.integration.http.test_http_teams import join
from tests.integration.http_payments.payments_support import key_headers
from tests.support.customer_keys import customer_key


def _link(client, headers, **body):
    created = client.post("/v1/payment-links", json={"description": "Mandazi", **body}, headers=headers)
    assert created.status_code == 201, created.json
    return created.json


def test_a_customer_uses_a_fixed_link_without_credentials_until_its_cap(client, auth, stack, shop):
    """Each use is an invoice for the link's price; past the cap, while unpaid checkouts hold it, a 429
    payment_link_busy, once they are paid a 409 payment_link_closed; uses are counted."""
    key = key_headers(auth.api_key(shop.headers, shop.id, ["payment_links:write", "payment_links:read"]))
    link = _link(client, key, amount="500", currency="KES", max_uses=2, rails=["usdt-tron"])
    assert link["open"] and link["uses"] == 0 and link["amount"] == {"amount": "500.00", "asset": "KES"}
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    invoices = [client.post(path, json={}) for _ in range(2)]
    assert [i.status_code for i in invoices] == [201, 201]
    assert {i.json["price"]["amount"] for i in invoices} == {"500.00"}
    assert invoices[0].json["metadata"] == {"payment_link": link["id"]}
    assert [o["rail"] for o in invoices[0].json["payment_options"]] == ["usdt-tron"]
    busy = client.post(path, json={})  # both uses held by unpaid checkouts: busy, not used up (review6 F11)
    assert busy.status_code == 429 and busy.json["code"] == "payment_link_busy"
    for invoice in invoices:
        stack.pay(invoice.json["id"])
    stack.tick(minutes=1)
    closed = client.post(path, json={})
    assert closed.status_code == 409 and closed.json["code"] == "payment_link_closed"
    assert client.post(path, json={"amount": "501"}).json["code"] in ("payment_link_closed", "payment_link_terms")
    shown = client.get(f"/v1/payment-links/{link['id']}", headers=key).json
    assert shown["uses"] == 2 and not shown["open"] and "limit" in shown["closed_reason"]
    listed = client.get("/v1/invoices", headers=shop.headers).json["data"]
    assert {i["id"] for i in listed} >= {i.json["id"] for i in invoices}


def test_an_entered_amount_is_validated_and_the_store_bounds_apply(client, shop):
    """No amount or too many places for the link: 409; outside the store's min/max: 422; no invoice; else 201."""
    shop.store(["usdt-tron"], min_invoice_amount="100", max_invoice_amount="10000")
    link = _link(client, shop.headers, currency="KES")
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    for body, status, code in (
        ({}, 409, "payment_link_terms"),
        ({"amount": "1.001"}, 409, "payment_link_terms"),
        ({"amount": "99"}, 422, "below_store_minimum"),
        ({"amount": "0"}, 422, "validation_failed"),
    ):
        refused = client.post(path, json=body)
        assert (refused.status_code, refused.json["code"]) == (status, code), (body, refused.json)
    assert client.post(path, json={"amount": "10001"}).json["code"] == "above_store_maximum"
    made = client.post(path, json={"amount": "250"})
    assert made.status_code == 201 and made.json["price"]["amount"] == "250.00"
    assert client.get(f"/v1/payment-links/{link['id']}", headers=shop.headers).json["uses"] == 1


def test_deactivated_and_expired_links_make_no_invoice_and_unknown_ones_are_404(client, stack, shop):
    """Deactivating is for good; an expiry closes the link; an unknown public id is a 404 problem."""
    link = _link(client, shop.headers, amount="500")
    off = client.post(f"/v1/payment-links/{link['id']}/deactivate", headers=shop.headers)
    assert off.status_code == 200 and not off.json["active"] and off.json["deactivated_at"]
    assert client.post(f"/v1/payment-links/{link['public_id']}/invoices", json={}).json["code"] == "payment_link_closed"
    timed = _link(client, shop.headers, amount="500", expires_in_minutes=30)
    stack.clock.advance(minutes=30)
    assert client.post(f"/v1/payment-links/{timed['public_id']}/invoices", json={}).status_code == 409
    missing = client.post("/v1/payment-links/pl_unknown/invoices", json={})
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"


def test_links_are_the_merchant_s_own_and_list_newest_first(client, auth, shop, rival):
    """A rival gets 404s; a key without the scope a 403; the list walks newest first by cursor."""
    made = [_link(client, shop.headers, amount="10")["id"] for _ in range(3)]
    assert client.get(f"/v1/payment-links/{made[0]}", headers=rival.headers).status_code == 404
    assert client.post(f"/v1/payment-links/{made[0]}/deactivate", headers=rival.headers).status_code == 404
    narrow = key_headers(auth.api_key(shop.headers, shop.id, ["invoices:read"]))
    assert client.get("/v1/payment-links", headers=narrow).status_code == 403
    assert client.post("/v1/payment-links", json={"description": "x"}, headers=narrow).status_code == 403
    walked, cursor = [], None
    while True:
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/payment-links", query_string=query, headers=shop.headers).json
        walked += [x["id"] for x in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == list(reversed(made))
    assert client.get("/v1/payment-links", headers=rival.headers).json["data"] == []


def test_bad_link_terms_are_422_problems(client, shop):
    """A zero amount, a rail the store lacks, an empty description: 422, nothing created."""
    for body in (
        {"description": "x", "amount": "0"},
        {"description": "x", "rails": ["usdt-bsc"]},
        {"description": ""},
        {"description": "x", "max_uses": 0},
    ):
        answer = client.post("/v1/payment-links", json=body, headers=shop.headers)
        assert answer.status_code == 422 and answer.content_type == "application/problem+json", (body, answer.json)
    assert client.get("/v1/payment-links", headers=shop.headers).json["data"] == []


def test_finance_makes_payment_links_and_staff_only_reads_them(client, auth, services, shop):
    """A finance member creates a link; a staff member lists links but cannot create one."""
    finance = join(client, auth, services, shop.headers, "wanjiku@duka.co.ke", "finance")
    staff = join(client, auth, services, shop.headers, "otieno@duka.co.ke", "staff")
    made = client.post("/v1/payment-links", json={"description": "Mandazi", "amount": "50"}, headers=finance)
    assert made.status_code == 201, made.json
    assert [x["id"] for x in client.get("/v1/payment-links", headers=staff).json["data"]] == [made.json["id"]]
    assert client.post("/v1/payment-links", json={"description": "x"}, headers=staff).status_code == 403


def test_a_customer_s_retry_with_its_idempotency_key_returns_the_first_invoice(client, shop):
    """The same key gives the same invoice and uses the link once; the key with another amount is a 409."""
    link = _link(client, shop.headers, currency="KES", max_uses=5)
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    first = client.post(path, json={"amount": "250"}, headers={"Idempotency-Key": customer_key("tap-1")})
    again = client.post(path, json={"amount": "250"}, headers={"Idempotency-Key": customer_key("tap-1")})
    assert first.status_code == again.status_code == 201 and first.json["id"] == again.json["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (
        client.post(path, json={"amount": "300"}, headers={"Idempotency-Key": customer_key("tap-1")}).status_code == 409
    )
    assert client.get(f"/v1/payment-links/{link['id']}", headers=shop.headers).json["uses"] == 1


def test_a_guessable_key_is_refused_so_customers_of_a_link_never_share_one(client, shop):
    """Without credentials every customer of a link shares its key space: an order number, a counter or a UUID-shaped
    counter is a 422 ``weak_idempotency_key`` that uses neither the key nor the link; two customers' random keys give
    two invoices, each its own customer's. The OpenAPI document says what a key must be."""
    link = _link(client, shop.headers, currency="KES", max_uses=5)
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    weak_keys = ("order-1", "1", "00000000-0000-0000-0000-000000000001", "a" * 40, "order 1001 of the duka shop")
    sequences = ("12345678-1234-1234-1234-123456789012", "abcdefghijklmnopqrstuvwxyz", "order-1001-order-1001-order")
    for weak in weak_keys + sequences:  # the last three: review 3, I16
        refused = client.post(path, json={"amount": "250"}, headers={"Idempotency-Key": weak})
        assert (refused.status_code, refused.json["code"]) == (422, "weak_idempotency_key"), (weak, refused.json)
        assert "random UUID" in refused.json["detail"] and refused.json["errors"][0]["field"] == "Idempotency-Key"
    body = {"amount": "250"}
    one = client.post(path, json=body, headers={"Idempotency-Key": customer_key("customer 1's order-1")})
    two = client.post(path, json=body, headers={"Idempotency-Key": "Xk2_mQ9v-T4pLz7Wc1bN8rYd"})  # token_urlsafe(18)
    assert one.status_code == two.status_code == 201 and one.json["id"] != two.json["id"]
    assert "Idempotent-Replayed" not in two.headers
    assert client.get(f"/v1/payment-links/{link['id']}", headers=shop.headers).json["uses"] == 2
    operation = client.get("/openapi.json").json["paths"]["/v1/payment-links/{public_id}/invoices"]["post"]
    (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"]["minLength"] == 22 and "random UUID" in key["description"]
    assert "422" in operation["responses"]


def test_an_open_amount_is_bounded_per_currency_with_specific_problems(client, shop):
    """A store without bounds still takes whole shillings from KES 10 to 1,000,000 and USDT 1 to 10,000: each
    refusal a 422 problem naming ``amount``, no invoice made, the link unused; a fixed price is bounded alike."""
    kes = _link(client, shop.headers, currency="KES")
    path = f"/v1/payment-links/{kes['public_id']}/invoices"
    for amount, code in (
        ("0.01", "amount_not_whole"),
        ("250.50", "amount_not_whole"),
        ("9", "amount_below_minimum"),
        ("1000001", "amount_above_maximum"),
        ("999999999999999999", "amount_above_maximum"),
        ("1000000000000000000", "validation_failed"),  # past the amount pattern's 18 digits
    ):
        refused = client.post(path, json={"amount": amount})
        assert refused.status_code == 422 and refused.content_type == "application/problem+json", refused.json
        assert (refused.json["code"], refused.json["errors"][0]["field"]) == (code, "amount"), amount
    assert client.get(f"/v1/payment-links/{kes['id']}", headers=shop.headers).json["uses"] == 0
    assert client.post(path, json={"amount": "10"}).status_code == 201
    assert client.post(path, json={"amount": "1000000"}).status_code == 201
    usdt = _link(client, shop.headers, currency="USDT")
    usdt_path = f"/v1/payment-links/{usdt['public_id']}/invoices"
    assert client.post(usdt_path, json={"amount": "0.5"}).json["code"] == "amount_below_minimum"
    assert client.post(usdt_path, json={"amount": "10000.000001"}).json["code"] == "amount_above_maximum"
    assert client.post(usdt_path, json={"amount": "2.5"}).status_code == 201
    fixed = client.post("/v1/payment-links", json={"description": "x", "amount": "5"}, headers=shop.headers)
    assert (fixed.status_code, fixed.json["code"], fixed.json["errors"][0]["field"]) == (
        422,
        "amount_below_minimum",
        "amount",
    )


def test_a_public_id_of_the_wrong_shape_is_a_404_before_its_idempotency_key_is_used(client, shop):
    """Review F5: the path parameter is declared ``pl_`` + 22 URL-safe characters in the document, and any other
    segment (here 200 characters, with a valid key) is the same 404 problem as an unknown link, never a 5xx."""
    headers = {"Idempotency-Key": customer_key("long-id")}
    for public_id in ("0" * 200, "pl_" + "A" * 23, "pl_short"):
        refused = client.post(f"/v1/payment-links/{public_id}/invoices", json={}, headers=headers)
        assert (refused.status_code, refused.mimetype) == (404, "application/problem+json"), refused.data
    unknown = client.post(f"/v1/payment-links/pl_{'A' * 22}/invoices", json={}, headers=headers)
    assert unknown.status_code == 404 and unknown.json["code"] == "not_found"
    operation = client.get("/openapi.json").json["paths"]["/v1/payment-links/{public_id}/invoices"]["post"]
    (declared,) = [p["schema"] for p in operation["parameters"] if p["name"] == "public_id"]
    assert (declared["pattern"], declared["maxLength"]) == ("^pl_[A-Za-z0-9_-]{22}$", 25)
    link = _link(client, shop.headers, amount="500")
    assert re.fullmatch(declared["pattern"], link["public_id"])


def test_checkouts_left_unpaid_give_their_uses_back_so_a_stranger_cannot_close_a_link(client, auth, stack, shop):
    """Review H4: two invoices nobody pays close a link capped at two only while they are open; once they expire the
    link shows no uses and is open again; a paid invoice keeps its use."""
    key = key_headers(auth.api_key(shop.headers, shop.id, ["payment_links:write", "payment_links:read"]))
    link = _link(client, key, amount="500", currency="KES", max_uses=2, rails=["usdt-tron"])
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    assert [client.post(path, json={"amount": "500"}).status_code for _ in range(2)] == [201, 201]
    assert client.post(path, json={}).json["code"] == "payment_link_busy"  # not closed: nothing paid (F11)
    stack.tick(minutes=20)
    shown = client.get(f"/v1/payment-links/{link['id']}", headers=key).json
    assert (shown["uses"], shown["open"]) == (0, True), shown
    paid = client.post(path, json={})
    assert paid.status_code == 201
    stack.pay(paid.json["id"])
    stack.confirm(3)
    stack.tick(minutes=20)
    assert client.get(f"/v1/payment-links/{link['id']}", headers=key).json["uses"] == 1


def test_a_busy_link_s_429_does_not_use_up_the_customer_s_key(client, auth, stack, shop):
    """Review7 F4, the class: ``payment_link_busy`` is a 429 with Retry-After, and was kept as the key's answer, so a
    customer resending the same request with the same key once the checkouts lapsed got the stale 429. Now the same
    key makes the invoice (201, not a replay); resent again, it replays that invoice."""
    key = key_headers(auth.api_key(shop.headers, shop.id, ["payment_links:write", "payment_links:read"]))
    link = _link(client, key, amount="500", currency="KES", max_uses=1, rails=["usdt-tron"])
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    assert client.post(path, json={}).status_code == 201
    keyed = {"Idempotency-Key": customer_key("f4-busy-link")}
    busy = client.post(path, json={}, headers=keyed)
    assert busy.status_code == 429 and busy.json["code"] == "payment_link_busy" and busy.headers["Retry-After"]
    stack.tick(minutes=20)  # the unpaid checkout lapsed: its use is given back
    made = client.post(path, json={}, headers=keyed)
    assert made.status_code == 201 and "Idempotent-Replayed" not in made.headers, made.json
    again = client.post(path, json={}, headers=keyed)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json["id"] == made.json["id"]


def test_a_customer_may_name_the_link_s_currency_and_another_one_is_a_specific_422(client, shop):
    """Review H16: ``{"amount", "currency"}`` as on every money route; a currency other than the link's is 422
    ``payment_link_currency`` naming ``currency``, and makes no invoice (the link's uses stay)."""
    link = _link(client, shop.headers, currency="KES")
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    made = client.post(path, json={"amount": "100", "currency": "KES"})
    assert made.status_code == 201 and made.json["price"] == {"amount": "100.00", "asset": "KES"}
    other = client.post(path, json={"amount": "100", "currency": "USDT"})
    assert (other.status_code, other.json["code"]) == (422, "payment_link_currency")
    assert other.json["errors"][0]["field"] == "currency" and "paid in KES, not USDT" in other.json["detail"]
    unknown = client.post(path, json={"amount": "100", "currency": "EUR"})
    assert unknown.status_code == 422
    fixed = _link(client, shop.headers, amount="500", currency="KES")
    fixed_path = f"/v1/payment-links/{fixed['public_id']}/invoices"
    assert client.post(fixed_path, json={"currency": "KES"}).status_code == 201
    assert client.post(fixed_path, json={"currency": "USDT"}).json["code"] == "payment_link_currency"
    assert client.get(f"/v1/payment-links/{link['id']}", headers=shop.headers).json["uses"] == 1


def test_a_link_invoice_s_qr_link_opens_for_its_customer_without_credentials(client, shop):
    """Review H5: the invoice answered to a link's customer points its QR codes at the checkout page's public route
    (by the invoice's public id, already in its checkout_url), not the merchant's ``/v1/invoices/...`` (a 401)."""
    link = _link(client, shop.headers, amount="500", currency="KES", rails=["usdt-tron"])
    invoice = client.post(f"/v1/payment-links/{link['public_id']}/invoices", json={}).json
    [option] = invoice["payment_options"]
    public_id = invoice["checkout_url"].rsplit("/", 1)[1]
    assert option["qr_svg_url"] == f"/pay/{public_id}/qr.svg?rail=usdt-tron"
    image = client.get(option["qr_svg_url"])
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    merchant_view = client.get(f"/v1/invoices/{invoice['id']}", headers=shop.headers).json
    assert merchant_view["payment_options"][0]["qr_svg_url"].startswith(f"/v1/invoices/{invoice['id']}/qr.svg")


def test_one_address_holds_at_most_two_unpaid_checkouts_of_a_capped_link(client, auth, stack, shop):
    """Review5 S7: a third unpaid checkout from one address is a 429 problem with Retry-After, nothing made; another
    address still buys; five minutes on, the reservations have lapsed and the link is whole again."""
    key = key_headers(auth.api_key(shop.headers, shop.id, ["payment_links:write", "payment_links:read"]))
    link = _link(client, key, amount="500", currency="KES", max_uses=5, rails=["usdt-tron"])
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    stranger = {"REMOTE_ADDR": "198.51.100.7"}
    assert [client.post(path, json={}, environ_overrides=stranger).status_code for _ in range(2)] == [201, 201]
    busy = client.post(path, json={}, environ_overrides=stranger)
    assert busy.status_code == 429 and busy.mimetype == "application/problem+json", busy.json
    assert busy.json["code"] == "payment_link_busy" and 0 < int(busy.headers["Retry-After"]) <= 300
    assert client.get(f"/v1/payment-links/{link['id']}", headers=key).json["uses"] == 2
    other = client.post(path, json={}, environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert other.status_code == 201
    stack.tick(minutes=6)
    assert client.post(path, json={}, environ_overrides=stranger).status_code == 201
    assert client.get(f"/v1/payment-links/{link['id']}", headers=key).json["uses"] == 1
