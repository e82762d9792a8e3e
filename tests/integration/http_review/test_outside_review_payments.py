"""Outside review: an attacker and an integrator against refunds, payment links, teams and reports over HTTP.

Every bad input is a specific 4xx problem+json that changes nothing; another tenant's objects are 404s; money
leaves only with a step-up of the caller's own login.
"""

from __future__ import annotations

import pytest

from tests.integration.http.test_http_teams import join
from tests.integration.http_payments.payments_support import idem, key_headers
from tests.support.customer_keys import customer_key

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
PROBLEM = "application/problem+json"


def _settled(shop, stack) -> dict:
    invoice = shop.invoice(rails=["usdt-tron"])
    stack.pay(invoice["id"])
    stack.confirm(3)
    return invoice


def _refunds(client, shop, invoice_id: str) -> list:
    return client.get(f"/v1/invoices/{invoice_id}/refunds", headers=shop.headers).json["data"]


def _problem(answer, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == PROBLEM, answer.content_type


def test_another_merchant_cannot_refund_read_or_list_refunds_of_an_invoice(client, auth, stack, shop, rival):
    invoice = _settled(shop, stack)
    path = f"/v1/invoices/{invoice['id']}/refunds"
    body = {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
    _problem(client.post(path, json=body, headers=idem(rival.stepped)), 404)
    rival_key = key_headers(auth.api_key(rival.headers, rival.id, ["refunds:write", "refunds:read"]))
    _problem(client.post(path, json=body, headers=idem(rival_key)), 404)
    _problem(client.get(path, headers=rival_key), 404)
    mine = client.post(path, json=body, headers=idem(shop.stepped))
    assert mine.status_code == 201, mine.json
    _problem(client.get(f"/v1/refunds/{mine.json['id']}", headers=rival_key), 404)
    _problem(client.get(f"/v1/refunds/{mine.json['id']}", headers=rival.headers), 404)
    assert len(_refunds(client, shop, invoice["id"])) == 1


def test_a_step_up_token_of_another_login_does_not_unlock_a_refund(client, auth, stack, shop, rival):
    invoice = _settled(shop, stack)
    path = f"/v1/invoices/{invoice['id']}/refunds"
    theirs = rival.stepped["X-Step-Up-Token"]
    answer = client.post(
        path,
        json={"address": CUSTOMER, "amount": "1", "currency": "USDT"},
        headers=idem({**shop.headers, "X-Step-Up-Token": theirs}),
    )
    _problem(answer, 403)
    forged = idem({**shop.headers, "X-Step-Up-Token": theirs[:-2] + "xx"})
    _problem(client.post(path, json={"address": CUSTOMER, "amount": "1", "currency": "USDT"}, headers=forged), 403)
    assert _refunds(client, shop, invoice["id"]) == []


@pytest.mark.parametrize(
    "body",
    [
        {"address": CUSTOMER, "amount": "-1", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "0", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "1e30", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "NaN", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "Infinity", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "0.0000001", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "99999999999999999999999999999999", "currency": "KES"},
        {"address": CUSTOMER, "amount": "1", "currency": "XYZ"},
        {"address": CUSTOMER, "amount": "1", "currency": "US\u0000DT"},
        {"address": CUSTOMER + "\u0000", "amount": "1", "currency": "USDT"},
        {"address": "\ud800" + CUSTOMER[1:], "amount": "1", "currency": "USDT"},
        {"address": CUSTOMER.replace("T", "\uff34", 1), "amount": "1", "currency": "USDT"},
        {"address": "0x" + "ab" * 20, "amount": "1", "currency": "USDT"},
        {"address": CUSTOMER, "amount": "1", "currency": "USDT", "rail": "usdt-ethereum"},
        {"address": CUSTOMER, "amount": "1", "currency": "USDT", "rail": "usdt-tron\u202e"},
        {"address": CUSTOMER, "amount": "1", "currency": "KES", "quote_id": "q_" + "x" * 20},
        {"address": CUSTOMER, "amount": [1], "currency": "USDT"},
        {"address": CUSTOMER, "amount": {"amount": "1"}, "currency": "USDT"},
        {"address": CUSTOMER, "amount": True, "currency": "USDT"},
        {"address": "", "amount": "1", "currency": "USDT"},
    ],
)
def test_odd_refund_inputs_are_specific_4xx_problems_that_change_nothing(client, stack, shop, body):
    invoice = _settled(shop, stack)
    answer = client.post(f"/v1/invoices/{invoice['id']}/refunds", json=body, headers=idem(shop.stepped))
    _problem(answer, 400, 404, 409, 422)
    assert _refunds(client, shop, invoice["id"]) == []


def test_a_refund_idempotency_key_reused_with_another_body_or_invoice_is_a_conflict(client, stack, shop):
    first, second = _settled(shop, stack), _settled(shop, stack)
    body = {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
    made = client.post(f"/v1/invoices/{first['id']}/refunds", json=body, headers=idem(shop.stepped, "r-1"))
    assert made.status_code == 201, made.json
    other_body = {**body, "amount": "2"}
    again = client.post(f"/v1/invoices/{first['id']}/refunds", json=other_body, headers=idem(shop.stepped, "r-1"))
    _problem(again, 409)
    assert again.json["code"] == "idempotency_conflict"
    elsewhere = client.post(f"/v1/invoices/{second['id']}/refunds", json=body, headers=idem(shop.stepped, "r-1"))
    _problem(elsewhere, 409)
    assert len(_refunds(client, shop, first["id"])) == 1 and _refunds(client, shop, second["id"]) == []


def test_refunds_together_never_exceed_what_was_received(client, stack, shop):
    invoice = _settled(shop, stack)
    path = f"/v1/invoices/{invoice['id']}/refunds"
    received = invoice["payment_options"][0]["amount"]
    answers = [
        client.post(
            path, json={"address": CUSTOMER, "amount": received, "currency": "USDT"}, headers=idem(shop.stepped)
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 422, 422]
    _problem(answers[1], 422)
    kes = client.post(path, json={"address": CUSTOMER, "amount": "1", "currency": "KES"}, headers=idem(shop.stepped))
    _problem(kes, 422)
    assert len(_refunds(client, shop, invoice["id"])) == 1


def test_staff_cannot_refund_or_remove_members_and_finance_refunds_only_with_its_own_step_up(
    client, auth, services, stack, shop
):
    finance = join(client, auth, services, shop.headers, "fin@duka.co.ke", "finance")
    staff = join(client, auth, services, shop.headers, "staff@duka.co.ke", "staff")
    invoice = _settled(shop, stack)
    path = f"/v1/invoices/{invoice['id']}/refunds"
    body = {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
    _problem(client.post(path, json=body, headers=idem(auth.stepped_up(staff))), 403)
    _problem(client.post(path, json=body, headers=idem(finance)), 403)
    owners_token = shop.stepped["X-Step-Up-Token"]
    _problem(client.post(path, json=body, headers=idem({**finance, "X-Step-Up-Token": owners_token})), 403)
    assert _refunds(client, shop, invoice["id"]) == []
    members = client.get("/v1/merchants/me/members", headers=shop.headers).json["members"]
    by_role = {m["role"]: m["user_id"] for m in members}
    for target in ("finance", "owner"):
        _problem(client.delete(f"/v1/merchants/me/members/{by_role[target]}", headers=staff), 403, 409)
    _problem(client.delete(f"/v1/merchants/me/members/{by_role['staff']}", headers=finance), 403)
    after = client.get("/v1/merchants/me/members", headers=shop.headers).json["members"]
    assert sorted(m["role"] for m in after) == ["finance", "owner", "staff"]
    _problem(client.patch(f"/v1/merchants/me/members/{by_role['staff']}", json={"role": "admin"}, headers=staff), 403)


def test_another_merchant_s_team_member_cannot_act_on_this_team(client, auth, services, shop, rival):
    members = client.get("/v1/merchants/me/members", headers=shop.headers).json["members"]
    owner_id = members[0]["user_id"]
    _problem(client.delete(f"/v1/merchants/me/members/{owner_id}", headers=rival.headers), 404, 403, 409)
    _problem(
        client.patch(f"/v1/merchants/me/members/{owner_id}", json={"role": "staff"}, headers=rival.headers),
        404,
        403,
        409,
    )
    assert client.get("/v1/merchants/me/members", headers=shop.headers).json["members"] == members


def test_a_public_link_never_makes_more_invoices_than_its_cap_whatever_the_keys(client, shop):
    link = client.post("/v1/payment-links", json={"description": "Mandazi", "max_uses": 2}, headers=shop.headers).json
    path = f"/v1/payment-links/{link['public_id']}/invoices"
    answers = [
        client.post(path, json={"amount": "500"}, headers={"Idempotency-Key": customer_key(f"k{i}")}) for i in range(4)
    ]
    # the two uses are held by unpaid checkouts: busy, not used up (review6 F11), and no third invoice either way
    assert [a.status_code for a in answers] == [201, 201, 429, 429]
    assert {a.json["code"] for a in answers[2:]} == {"payment_link_busy"}
    replay = client.post(path, json={"amount": "500"}, headers={"Idempotency-Key": customer_key("k0")})
    assert replay.status_code == 201 and replay.json["id"] == answers[0].json["id"]
    changed = client.post(path, json={"amount": "600"}, headers={"Idempotency-Key": customer_key("k0")})
    _problem(changed, 409)
    shown = client.get(f"/v1/payment-links/{link['id']}", headers=shop.headers).json
    assert shown["uses"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "-5"},
        {"amount": "0"},
        {"amount": "NaN"},
        {"amount": "1e400"},
        {"amount": "500.123"},
        {"amount": 500.5},
        {"amount": "99999999999999999999999999"},
        {"rail": "usdt-tron\u0000"},
        {"rail": "btc-bitcoin"},
        {"amount": "\ud800"},
    ],
)
def test_odd_public_link_inputs_are_4xx_problems_and_use_nothing(client, shop, body):
    link = client.post("/v1/payment-links", json={"description": "Open amount"}, headers=shop.headers).json
    answer = client.post(f"/v1/payment-links/{link['public_id']}/invoices", json=body)
    _problem(answer, 400, 409, 422)
    assert client.get(f"/v1/payment-links/{link['id']}", headers=shop.headers).json["uses"] == 0


@pytest.mark.parametrize(
    "description",
    ["Mandazi\u0000", "\ud83d", "\u202eizadnaM", "   ", "x" * 201, "Ma\u0085ndazi", "\u200b"],
)
def test_odd_link_descriptions_are_422_problems(client, shop, description):
    answer = client.post("/v1/payment-links", json={"description": description}, headers=shop.headers)
    _problem(answer, 400, 422)
    assert client.get("/v1/payment-links", headers=shop.headers).json["data"] == []


def test_a_merchant_cannot_make_or_list_links_for_another_by_naming_it(client, shop, rival):
    made = client.post(
        "/v1/payment-links", json={"description": "Mandazi", "merchant_id": shop.id}, headers=rival.headers
    )
    _problem(made, 403, 404, 422)
    _problem(client.get("/v1/payment-links", query_string={"merchant_id": shop.id}, headers=rival.headers), 403, 404)
    assert client.get("/v1/payment-links", headers=shop.headers).json["data"] == []


@pytest.mark.parametrize("kind", ["sales", "fees", "settlements"])
def test_reports_are_the_merchant_s_own(client, stack, shop, rival, kind):
    _settled(shop, stack)
    answer = client.get(f"/v1/reports/{kind}", query_string={"merchant_id": shop.id}, headers=rival.headers)
    _problem(answer, 403, 404)
    own = client.get(f"/v1/reports/{kind}", headers=rival.headers)
    assert own.status_code == 200
    assert shop.id not in own.get_data(as_text=True)


def test_merchants_and_personal_users_are_kept_out_of_the_treasury_and_admin_queues(client, auth, shop):
    personal = auth.user("personal")
    for headers in (shop.headers, personal):
        _problem(client.get("/v1/admin/treasury", headers=headers), 403)
        body = {"asset": "USDT", "amount": "1000", "network": "tron"}
        _problem(client.post("/v1/admin/treasury/topups", json=body, headers=idem(headers)), 403)
        _problem(client.get("/v1/admin/kyc/queue", headers=headers), 403)
        _problem(client.get("/v1/admin/compliance/cases", headers=headers), 403)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/payment-links", {"description": "Mandazi \u202e05 SEK"}),
        ("/v1/invoices", {"amount": "500", "currency": "KES", "order_id": "A\u2066-1"}),
        ("/v1/webhook-endpoints", {"url": "https://duka.example/\u202ehooks"}),
    ],
)
def test_bidirectional_overrides_are_refused_in_every_text_field(client, shop, path, body):
    """U+202E and the isolates reorder what a person reads; the shared text rule refuses them everywhere."""
    answer = client.post(path, json=body, headers=shop.stepped)
    _problem(answer, 400, 422)
    if path != "/v1/payment-links":  # a description's own rule (trimmed, visible) names it first
        assert "bidirectional" in answer.get_data(as_text=True)


def test_a_blank_wallet_display_name_is_a_422_before_anything_else(client):
    answer = client.post(
        "/v1/wallet/signup/ver_unknown/complete",
        json={"code": "123456", "password": "correct horse battery staple", "display_name": "\u200b "},
    )
    _problem(answer, 422)
    assert "display_name" in answer.get_data(as_text=True)


def test_a_failed_refund_tells_the_merchant_nothing_of_our_hot_wallet(client, stack, shop):
    """A refund the hot wallet cannot pay fails (the amount is refundable again); the merchant's REST readings and
    its ``refund.failed`` webhook say so without the hot wallet's balance."""
    from cryptopay.core.errors import InsufficientFunds
    from cryptopay.core.testing.payments_stack import FakeChainSender

    class EmptyHotWallet(FakeChainSender):
        def send(self, request):
            raise InsufficientFunds(f"the tron hot wallet holds 3.141592 USDT, needs {request.amount}")

    invoice = _settled(shop, stack)
    stack.refunds._senders["tron"] = EmptyHotWallet("tron")  # the wired use case keeps its own copy of the senders
    body = {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
    made = client.post(f"/v1/invoices/{invoice['id']}/refunds", json=body, headers=idem(shop.stepped))
    assert made.status_code == 201, made.json
    stack.refunds.send_refunds()
    told = [
        client.get(f"/v1/refunds/{made.json['id']}", headers=shop.headers).get_data(as_text=True),
        client.get(f"/v1/invoices/{invoice['id']}/refunds", headers=shop.headers).get_data(as_text=True),
        *(str(m.payload) for m in stack.outbox("refund.failed")),
    ]
    assert '"state":"failed"' in told[0] and len(told) == 3, told
    assert all("3.141592" not in text and "hot wallet" not in text for text in told), told
