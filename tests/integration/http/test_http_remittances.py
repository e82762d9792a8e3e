"""Remittance orders over REST on the root's real SQL storage (SQLite and PostgreSQL): public create and status.

The order's chain and M-Pesa are the fakes of ``tests.support.remittance_stack`` over the same database; the API is
the real app with the root's services, its ``remittances`` given by that stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, ready
from cryptopay.core.money import USDC, USDT, Money
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.remittances.model import RemittanceRoute, RemittanceState
from flask.testing import FlaskClient

from tests.integration.http.http_support import database_env, make_app
from tests.support.customer_keys import customer_key
from tests.support.remittance_stack import EVM_REFUND, TRON_REFUND, RemittanceStack, remittance_stack
from tests.support.sql_backends import sql_backend


@attrs.define
class Api:
    client: FlaskClient
    stack: RemittanceStack


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}"}
    with database_env(request, env, "cryptopay_http_remit") as settings:
        yield from _api(settings)


def _api(env: dict[str, str]) -> Iterator[Api]:
    root = build(RootSettings.from_env(env))
    backend = sql_backend("sql", env["CRYPTOPAY_DATABASE_URL"])
    try:
        stack = remittance_stack(backend)
        services = attrs.evolve(root, remittances=ready(stack.remittances))
        app = make_app(services)
        app.config["SERVICES_FOR_TESTS"] = services
        yield Api(app.test_client(), stack)
    finally:
        backend.engine.dispose()
        root.close()


BODY = {
    "recipient_phone": "0712 345 678",
    "recipient_name": "Achieng Otieno",
    "amount": {"amount": "5000", "asset": "KES"},
    "sender": {"name": "Grace Otieno", "country": "GB", "address": "12 Acacia Road, London"},
    "refund_address": TRON_REFUND,
}


def test_a_keyed_order_is_opened_once_and_its_status_follows_the_money(api: Api):
    """No key: 400. A keyed order answers where to pay (USDT on Tron, one-time address) and a retry replays it; the
    public status moves to paid_out once the USDT is confirmed and the worker ran; the phone stays masked."""
    assert api.client.post("/v1/wallet/remittances", json=BODY).status_code == 400
    keyed = {"Idempotency-Key": customer_key("order-1")}
    first = api.client.post("/v1/wallet/remittances", json=BODY, headers=keyed)
    again = api.client.post("/v1/wallet/remittances", json=BODY, headers=keyed)
    assert first.status_code == 201 and again.get_json() == first.get_json()
    order = first.get_json()
    assert order["state"] == "awaiting_payment" and order["kes"] == {"amount": "5000.00", "asset": "KES"}
    assert [o["rail"] for o in order["payment_options"]] == ["usdt-tron"]
    assert order["recipient_phone"] != "254712345678" and first.headers["Location"].endswith(order["public_id"])
    assert len(api.stack.remittances.orders()) == 1
    found = api.stack.remittances.get_public(order["public_id"])
    api.stack.pay(found)
    api.stack.confirm()
    api.stack.run()
    answer = api.client.get(f"/v1/wallet/remittances/{order['public_id']}")
    status = answer.get_json()
    assert (status["state"], status["route"]) == ("paid_out", None)  # the route is never told (review7 F13)
    assert answer.headers["Cache-Control"] == "no-store"  # review3 I23: a name and amounts, no credential


def test_bad_orders_are_problems_that_change_nothing(api: Api):
    """A refund address on no network, a Kenyan sender, cents in shillings: 422 problem+json naming the field;
    an unknown public id is a 404. Nothing is stored."""
    for change, field in (
        ({"refund_address": "nope"}, "refund_address"),
        ({"sender": {"name": "Wanjiru", "country": "KE"}}, "sender.country"),
        ({"amount": {"amount": "100.50", "asset": "KES"}}, "amount"),
    ):
        answer = api.client.post(
            "/v1/wallet/remittances", json={**BODY, **change}, headers={"Idempotency-Key": customer_key(field)}
        )
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", answer.get_json()
        assert field in str(answer.get_json())
    assert api.client.get("/v1/wallet/remittances/unknown").status_code == 404
    assert api.stack.remittances.orders() == []


def test_a_sender_born_in_the_future_is_implausible_naming_the_field(api: Api):
    """As every other implausible originator datum (review3 I22): 422 ``implausible_sender`` on
    ``sender.date_of_birth``, not a bare ``invalid_input``; nothing stored."""
    for born in ("2031-01-01", "2999-12-31"):
        sender = {**BODY["sender"], "date_of_birth": born, "place_of_birth": "London"}
        answer = api.client.post(
            "/v1/wallet/remittances", json={**BODY, "sender": sender}, headers={"Idempotency-Key": customer_key(born)}
        )
        problem = answer.get_json()
        assert answer.status_code == 422 and problem["code"] == "implausible_sender", problem
        assert [e["field"] for e in problem["errors"]] == ["sender.date_of_birth"]
    assert api.stack.remittances.orders() == []


def test_a_refund_address_that_burns_coins_is_refused(api: Api):
    """The zero address and the USDT contract itself are well-formed Tron addresses, but coins sent there are lost:
    each is a 422 naming ``refund_address`` and saying why, and nothing is stored."""
    for address, why in (
        ("T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb", "zero address"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "USDT contract on tron"),
    ):
        body = {**BODY, "refund_address": address}
        answer = api.client.post(
            "/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key(address)}
        )
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", answer.get_json()
        assert why in answer.get_json()["detail"] and "refund_address" in str(answer.get_json())
    assert api.stack.remittances.orders() == []


def test_a_refund_address_the_platform_controls_is_refused(api: Api):
    """H20: another order's deposit address (a wallet's alike) as the refund address: 422 ``internal_address`` on
    ``refund_address``, nothing stored beyond the first order."""
    first = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("o-1")})
    assert first.status_code == 201, first.get_json()
    taken = "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW"  # as a deriver gives it (the fake chain's own are not Tron-shaped)
    order, now = api.stack.remittances.orders()[0], api.stack.clock.now()
    with api.stack.wallet.backend.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("tron", taken, 900, order.invoice_id, "desk", now))
    body = {**BODY, "refund_address": taken}
    answer = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("o-2")})
    problem = answer.get_json()
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json", problem
    assert (problem["code"], problem["errors"][0]["field"]) == ("internal_address", "refund_address")
    assert len(api.stack.remittances.orders()) == 1


def test_a_large_order_without_full_originator_data_is_refused_naming_the_travel_rule(api: Api):
    """KES 200,000 is above USD 1,000: without an address (or an ID, or birth data) it is a 422
    travel_rule_incomplete and nothing is stored; with the address it opens."""
    large = {**BODY, "amount": {"amount": "200000", "asset": "KES"}}
    bare = {**large, "sender": {"name": "Grace Otieno", "country": "GB"}}
    refused = api.client.post("/v1/wallet/remittances", json=bare, headers={"Idempotency-Key": customer_key("big-1")})
    assert refused.status_code == 422 and refused.get_json()["code"] == "travel_rule_incomplete"
    assert api.stack.remittances.orders() == []
    opened = api.client.post("/v1/wallet/remittances", json=large, headers={"Idempotency-Key": customer_key("big-2")})
    assert opened.status_code == 201, opened.get_json()


def test_a_sender_in_a_call_for_action_jurisdiction_is_refused_naming_the_rule(api: Api):
    """A North Korean sender: a 422 problem ``blocked_by_compliance`` naming the rule (the rule set is data:
    ``CRYPTOPAY_MONITORING_RULES``), nothing stored, compliance alerted."""
    body = {**BODY, "sender": {"name": "Kim", "country": "KP", "address": "1 Main Street"}}
    refused = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("kp-1")})
    problem = refused.get_json()
    assert refused.mimetype == "application/problem+json" and refused.status_code == 422, problem
    assert problem["code"] == "blocked_by_compliance" and "call-for-action-remittance" in problem["detail"]
    assert api.stack.remittances.orders() == []
    assert [a.rule_id for a in api.stack.monitoring.alerts()] == ["call-for-action-remittance"]


def _alike(answer: dict, other: dict) -> dict:
    """What two orders' public answers say beyond what is each order's own (ids, addresses, times)."""
    own = ("public_id", "recipient_phone", "payment_options", "expires_at", "created_at", "finished_at")
    return {k: v for k, v in answer.items() if k not in own} == {k: v for k, v in other.items() if k not in own}


def test_a_sanctioned_sender_opens_an_order_as_any_other_and_compliance_has_the_alert(api: Api):
    """tipoff3: a listed sender's name was a 422 ``blocked_by_compliance`` naming the sanctions rule: anyone could
    probe names against our lists for the price of a request. It opens now, 201 and the body an ordinary order
    gets (its status too); compliance has the blocking alert with the evidence, the order keeps it (held once
    paid)."""
    api.stack.list_sanctioned("Dmitri Ivanovich Petrov")
    answers = {}
    for name in ("Dmitri Ivanovich Petrov", "Grace Otieno"):
        body = {**BODY, "sender": {"name": name, "country": "GB", "address": "1 Main Street"}}
        answers[name] = api.client.post(
            "/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key(f"sdn-{name}")}
        )
    opened, ordinary = answers["Dmitri Ivanovich Petrov"], answers["Grace Otieno"]
    assert (opened.status_code, ordinary.status_code) == (201, 201), opened.get_json()
    assert _alike(opened.get_json(), ordinary.get_json()), (opened.get_json(), ordinary.get_json())
    status = api.client.get(opened.headers["Location"])
    assert status.get_json()["state"] == "awaiting_payment"
    for text in (opened.get_data(as_text=True), status.get_data(as_text=True)):
        assert "sanction" not in text.lower() and "ofac" not in text.lower() and "review" not in text
    [alert] = api.stack.monitoring.alerts()
    order = api.stack.remittances.get_public(opened.get_json()["public_id"])
    assert alert.blocking and order.review_alerts == (alert.id,)
    assert (alert.rule_id, alert.evidence["ref"], alert.evidence["role"]) == (
        "sanctioned-remittance-party",
        "ofac:9001",
        "sender",
    )


def test_a_listed_name_with_look_alike_letters_or_more_given_names_is_caught(api: Api):
    """review3 I1/I2: a word mixing Cyrillic look-alikes with Latin letters is not a name (422 ``invalid_name``,
    nothing stored); the listed name with one more given name, or a word split by ``-``, is the listed name: a
    blocking alert the order keeps (it opens as any other, tipoff3)."""
    api.stack.list_sanctioned("Ali Mohamed Hassan")
    spoofed = {**BODY, "sender": {"name": "Аli Моhаmеd Наssаn", "country": "GB", "address": "1 Main Street"}}
    answer = api.client.post("/v1/wallet/remittances", json=spoofed, headers={"Idempotency-Key": customer_key("i1")})
    problem = answer.get_json()
    assert answer.status_code == 422 and problem["code"] == "invalid_name" and "sender.name" in str(problem), problem
    assert api.stack.remittances.orders() == []
    for n, name in enumerate(("Ali Mohamed Hassan Abdullahi", "Ali Mohamed Has-san", "Aly Mohammed Hasan")):
        body = {**BODY, "sender": {"name": name, "country": "GB", "address": "1 Main Street"}}
        answer = api.client.post(
            "/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key(f"i2{n}")}
        )
        assert answer.status_code == 201, (name, answer.get_json())
        order = api.stack.remittances.get_public(answer.get_json()["public_id"])
        blocking = {a.id for a in api.stack.monitoring.alerts() if a.blocking}
        assert order.review_alerts and set(order.review_alerts) <= blocking, name


def test_a_listed_refund_address_is_refused_and_a_listed_payer_is_held(api: Api):
    """review3 I20: a refund address on a sanctions list is a 422 ``blocked_by_compliance`` naming the rule, not the
    list, and nothing is stored; an order paid from a listed address is held (its status says ``held``), no payout."""
    listed, payer = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE", "TLsanctionedTronAddressXXXXXXXXXXX"
    api.stack.list_sanctioned("Nobody Listed", addresses=(("tron", listed), ("tron", payer)))
    body = {**BODY, "refund_address": listed}
    refused = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("i20")})
    problem = refused.get_json()
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json", problem
    assert problem["code"] == "blocked_by_compliance" and "sanctioned-address" in problem["detail"]
    assert "ofac" not in refused.get_data(as_text=True).lower() and api.stack.remittances.orders() == []
    opened = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("i20b")})
    assert opened.status_code == 201, opened.get_json()
    [order] = api.stack.remittances.orders()
    api.stack.pay(order, payer=payer)
    api.stack.confirm()
    api.stack.run()
    status = api.client.get(f"/v1/wallet/remittances/{order.public_id}").get_json()
    assert api.stack.get(order).state is RemittanceState.HELD  # the payer is not told (review7 F5): paying out
    assert status["state"] == "paying_out" and api.stack.remittances.payout_of(api.stack.get(order)) is None, status


def test_a_possible_sanctions_match_opens_the_order_as_any_other(api: Api):
    """A possible match is for compliance to review: the sender is told nothing of it (201, the usual body)."""
    api.stack.list_sanctioned("Dmitri Ivanovich Petrov")
    body = {**BODY, "sender": {"name": "Dmitri Ivanovich", "country": "GB", "address": "1 Main Street"}}
    opened = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("sdn-2")})
    assert opened.status_code == 201, opened.get_json()
    assert "review" not in opened.get_data(as_text=True)
    [alert] = api.stack.monitoring.alerts()
    assert not alert.blocking and api.stack.remittances.orders()[0].review_alerts == (alert.id,)


def test_senders_are_rate_limited_per_address_and_status_reads_at_the_general_rate(api: Api):
    """Opening orders is limited like sign-ups (per client address); reading a status is not held to that limit."""
    app = make_app(api.client.application.config["SERVICES_FOR_TESTS"], auth_rate_limit=2, rate_limit=50)
    client = app.test_client()
    statuses = [client.get("/v1/wallet/remittances/unknown").status_code for _ in range(5)]
    assert statuses == [404] * 5
    bad = {**BODY, "refund_address": "nope"}
    opened = [
        client.post("/v1/wallet/remittances", json=bad, headers={"Idempotency-Key": customer_key(f"k{n}")}).status_code
        for n in range(3)
    ]
    assert opened == [422, 422, 429]


def test_a_retry_from_another_address_replays_the_order_and_a_guessable_key_is_refused(api: Api):
    """A phone's address changes (within its IPv6 /64, or from mobile data to Wi-Fi): a retry with the same key is
    the same operation, not a second order; another key opens another order. Senders have no account and may share
    an address (a NAT, a proxy), so the key alone tells them apart: an order number or counter is a 422
    ``weak_idempotency_key`` that opens nothing."""
    keyed = {"Idempotency-Key": customer_key("order-v6")}

    def post(address: str, headers: dict[str, str] = keyed):
        return api.client.post(
            "/v1/wallet/remittances", json=BODY, headers=headers, environ_base={"REMOTE_ADDR": address}
        )

    first = post("2001:db8:5:7::10")
    again = post("2001:db8:5:7:ffff::2")
    on_wifi = post("198.51.100.7")
    assert first.status_code == 201 and again.get_json() == first.get_json() == on_wifi.get_json()
    other = post("2001:db8:5:7::10", {"Idempotency-Key": customer_key("order-v6, the second")})
    assert other.status_code == 201 and other.get_json()["public_id"] != first.get_json()["public_id"]
    for weak in ("order-1", "1"):
        refused = post("203.0.113.5", {"Idempotency-Key": weak})
        assert (refused.status_code, refused.get_json()["code"]) == (422, "weak_idempotency_key")
    assert len(api.stack.remittances.orders()) == 2


def test_the_smishing_name_and_a_tiny_order_are_problems_naming_the_field(api: Api):
    """F13: a sender "name" carrying a phone number and a link is a 422 ``invalid_name`` on ``sender.name``; KES 10
    is a 422 on ``amount`` (the minimum is KES 100). Nothing is stored."""
    scam = {"name": "M-PESA Reversal: call 0700111222 or visit https://evil.example/claim", "country": "GB"}
    named = api.client.post(
        "/v1/wallet/remittances", json={**BODY, "sender": scam}, headers={"Idempotency-Key": customer_key("smish")}
    )
    problem = named.get_json()
    assert named.status_code == 422 and named.mimetype == "application/problem+json", problem
    assert problem["code"] == "invalid_name" and "sender.name" in str(problem)
    tiny = {**BODY, "amount": {"amount": "10", "asset": "KES"}}
    small = api.client.post("/v1/wallet/remittances", json=tiny, headers={"Idempotency-Key": customer_key("tiny")})
    assert small.status_code == 422 and "KES 100" in small.get_json()["detail"] and "amount" in str(small.get_json())
    assert api.stack.remittances.orders() == []


def test_a_second_payment_shows_on_the_status_as_an_excess_refunded(api: Api):
    """F6: paid twice: the public status says paid_out with ``excess`` (the second payment) and its refund's state."""
    opened = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("twice")})
    public_id = opened.get_json()["public_id"]
    assert opened.get_json()["excess"] is None and opened.get_json()["excess_refund"] is None
    found = api.stack.remittances.get_public(public_id)
    api.stack.pay(found)
    api.stack.pay(found)
    api.stack.confirm()
    api.stack.run()
    status = api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert status["state"] == "paid_out" and status["excess"] == {"amount": str(found.usdt.amount), "asset": "USDT"}
    assert status["excess_refund"] in ("requested", "sent")
    api.stack.confirm_refunds()
    api.stack.run()
    assert api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()["excess_refund"] == "confirmed"


def test_dust_sent_after_payment_is_kept_and_costs_no_refund(api: Api):
    """G4 (the outside review's repro): five dust transfers to a paid order's address are no hot-wallet refund each:
    the status shows them kept (``excess_kept``), with no excess refund."""
    opened = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("dust")})
    public_id = opened.get_json()["public_id"]
    assert opened.get_json()["excess_kept"] is None
    found = api.stack.remittances.get_public(public_id)
    api.stack.pay(found)
    api.stack.confirm()
    api.stack.run()
    for _ in range(5):
        api.stack.pay(found, Money.of("0.000001", USDT))
        api.stack.confirm()
        api.stack.run()
        api.stack.confirm_refunds()
        api.stack.run()
    status = api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert status["state"] == "paid_out" and status["excess"] is None and status["excess_refund"] is None
    assert status["excess_kept"] == {"amount": "0.000005", "asset": "USDT"}
    assert api.stack.senders["tron"].sent == {}


def test_an_order_s_qr_link_opens_for_the_sender_without_credentials_and_names_no_invoice(api: Api):
    """Review H5: each payment option's ``qr_svg_url`` is the order's public QR route (no merchant key, no internal
    invoice id): an SVG of the same wallet URI the status shows; an unknown order or rail is a 404 problem."""
    opened = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("qr-1")})
    order = opened.get_json()
    [option] = order["payment_options"]
    assert option["qr_svg_url"] == f"/v1/wallet/remittances/{order['public_id']}/qr.svg?rail=usdt-tron"
    assert "inv_" not in opened.get_data(as_text=True)
    image = api.client.get(option["qr_svg_url"])
    assert image.status_code == 200 and image.mimetype == "image/svg+xml" and b"<svg" in image.data
    assert api.client.get(f"/v1/wallet/remittances/{order['public_id']}/qr.svg").data == image.data
    assert api.client.get(f"/v1/wallet/remittances/{order['public_id']}").get_json()["payment_options"] == [option]
    other_rail = api.client.get(f"/v1/wallet/remittances/{order['public_id']}/qr.svg?rail=usdt-ethereum")
    assert other_rail.status_code in (404, 422) and other_rail.mimetype == "application/problem+json"
    assert api.client.get("/v1/wallet/remittances/rem_nope/qr.svg").status_code == 404


def test_an_order_to_someone_compliance_froze_is_answered_as_any_other_number(api: Api):
    """Review4 R6 (tipping-off): the recipient's wallet holder is frozen by compliance. The anonymous sender gets the
    same answer as for a number with no wallet (201, the same fields, nothing naming the holder or a freeze), so the
    public route is no oracle on someone's compliance state; the order is held once paid (officers are told by the
    audit record ``remittance.frozen_recipient``)."""
    achieng = api.stack.wallet.sign_up("0712345678", tier=1)
    with api.stack.wallet.backend.uow() as uow:
        profile = uow.kyc.get(achieng.id)
        profile.freeze("adm_1", "case 7", at=api.stack.clock.now())
        uow.kyc.update(profile)
    frozen = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("f")})
    other = {**BODY, "recipient_phone": "0712 999 555"}
    anyone = api.client.post("/v1/wallet/remittances", json=other, headers={"Idempotency-Key": customer_key("g")})
    assert (frozen.status_code, anyone.status_code) == (201, 201), frozen.get_json()
    seen, unseen = frozen.get_json(), anyone.get_json()
    assert sorted(seen) == sorted(unseen) and seen["state"] == unseen["state"] == "awaiting_payment"
    own = ("public_id", "recipient_phone", "payment_options", "expires_at")  # the order's own, not the recipient's
    assert {k: v for k, v in seen.items() if k not in own} == {k: v for k, v in unseen.items() if k not in own}
    text = frozen.get_data(as_text=True)
    assert achieng.id not in text and "frozen" not in text and "tier" not in text
    with api.stack.wallet.backend.uow() as uow:
        told = [dict(r.details) for r in uow.audit.records() if r.action == "remittance.frozen_recipient"]
    assert told == [{"recipient": achieng.id, "limit": "frozen"}]


def test_a_paid_order_held_for_a_frozen_recipient_reads_as_paying_out_to_the_public(api: Api):
    """Review7 F5: once paid, an order to a holder compliance froze is held, and the public status said ``held``
    (``paying_out`` then ``paid_out`` for anyone else): a freeze probe for the price of the smallest order. Now it
    reads ``paying_out`` with M-Pesa's route, as a payout under way; officers still see it held."""
    achieng = api.stack.wallet.sign_up("0712345678", tier=1)
    opened = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("f5")})
    assert opened.status_code == 201, opened.get_json()
    with api.stack.wallet.backend.uow() as uow:
        profile = uow.kyc.get(achieng.id)
        profile.freeze("adm_1", "case 8", at=api.stack.clock.now())
        uow.kyc.update(profile)
    [order] = api.stack.remittances.orders()
    api.stack.pay(order)
    api.stack.confirm()
    api.stack.run()
    assert api.stack.get(order).state is RemittanceState.HELD
    status = api.client.get(f"/v1/wallet/remittances/{order.public_id}")
    shown = status.get_json()
    assert (shown["state"], shown["route"], shown["paid_out_at"]) == ("paying_out", None, None), shown
    assert "held" not in status.get_data(as_text=True) and "frozen" not in status.get_data(as_text=True)


def test_an_order_a_new_sanctions_list_names_reads_as_any_other_until_it_closes_unpaid(api: Api):
    """Tipping-off: a list imported after an order opened names its sender; the rescreen refused the unpaid order
    (its invoice cancelled) and the public status said ``refused``, then ``expired`` before its ``expires_at``
    and with a ``finished_at`` when the list came, not when the order's time ran out (tipoff3): anyone with the
    public id learnt a list matched a party. It keeps the alert now and reads as an ordinary order at every step:
    awaiting payment until it expires, then expired at the same time as one that closed unpaid."""
    opened = {}
    for name, sender in (("listed", "Dmitri Ivanovich Petrov"), ("ordinary", "Grace Otieno")):
        body = {**BODY, "sender": {**BODY["sender"], "name": sender}}
        answer = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key(name)})
        assert answer.status_code == 201, answer.get_json()
        opened[name] = api.stack.remittances.get_public(answer.get_json()["public_id"])
    api.stack.list_sanctioned("Dmitri Ivanovich Petrov")
    assert [o.id for o in api.stack.remittances.rescreen()] == [opened["listed"].id]
    api.stack.run()
    told = {k: api.client.get(f"/v1/wallet/remittances/{o.public_id}").get_json() for k, o in opened.items()}
    assert told["listed"]["state"] == told["ordinary"]["state"] == "awaiting_payment", told
    assert _alike(told["listed"], told["ordinary"]) and told["listed"]["finished_at"] is None
    api.stack.clock.advance(minutes=31)  # both invoices close unpaid
    api.stack.confirm(2)
    api.stack.run()
    listed, ordinary = api.stack.get(opened["listed"]), api.stack.get(opened["ordinary"])
    assert (listed.state, ordinary.state) == (RemittanceState.EXPIRED, RemittanceState.EXPIRED)
    assert listed.review_alerts  # the officers' record of the match stays
    shown = {k: api.client.get(f"/v1/wallet/remittances/{o.public_id}") for k, o in opened.items()}
    told = {k: answer.get_json() for k, answer in shown.items()}
    assert told["listed"]["state"] == told["ordinary"]["state"] == "expired", told
    assert _alike(told["listed"], told["ordinary"])
    assert told["listed"]["finished_at"] == told["ordinary"]["finished_at"]  # closed by the same run, not the list
    assert "refused" not in shown["listed"].get_data(as_text=True)
    assert "sanction" not in shown["listed"].get_data(as_text=True).lower()


def test_the_public_status_does_not_tell_whether_the_name_matched_the_wallet_holders_verified_name(api: Api):
    """Review7 F13: an order goes to the recipient's wallet only when its verified legal name is ``recipient_name``,
    else by M-Pesa, and the unauthenticated status said ``route: wallet`` or ``mpesa``: a stranger could test "is the
    verified holder of 07... called N?" per order. Both orders now read alike (``route`` null), while the money and
    the operators' view still take the two routes."""
    from tests.contract.test_remittance_repository_contract import _verified

    _verified(api.stack, "0712345678", "Achieng Otieno")
    shown = {}
    for name in ("Achieng Otieno", "Kamau Wekesa Kiprotich"):
        body = {**BODY, "recipient_name": name}
        opened = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key(name)})
        assert opened.status_code == 201, opened.get_json()
        order = api.stack.remittances.get_public(opened.get_json()["public_id"])
        api.stack.pay(order)
        api.stack.confirm()
        api.stack.run()
        shown[api.stack.get(order).route] = api.client.get(f"/v1/wallet/remittances/{order.public_id}").get_json()
    assert set(shown) == {RemittanceRoute.WALLET, RemittanceRoute.MPESA}  # the two routes were taken
    told = [
        {k: v for k, v in answer.items() if k in ("state", "route", "excess", "notice")} for answer in shown.values()
    ]
    assert told == [{"state": "paid_out", "route": None, "excess": None, "notice": None}] * 2, shown
    assert shown[RemittanceRoute.WALLET].keys() == shown[RemittanceRoute.MPESA].keys()
    assert all(answer["paid_out_at"] and answer["finished_at"] for answer in shown.values())


def test_an_order_paid_after_it_expired_shows_what_arrived_as_excess_and_its_refund(api: Api):
    """Expired unpaid, then the sender pays the full price late: the status stays ``expired`` and shows what arrived
    as ``excess`` (all of it goes back: the order took nothing) with its refund's state, as a paid order's status
    shows a second payment; never ``excess: null`` while the USDT is on its way back."""
    opened = api.client.post("/v1/wallet/remittances", json=BODY, headers={"Idempotency-Key": customer_key("late")})
    public_id = opened.get_json()["public_id"]
    found = api.stack.remittances.get_public(public_id)
    api.stack.clock.advance(minutes=31)
    api.stack.confirm(2)
    api.stack.run()
    assert api.stack.remittances.get_public(public_id).state.value == "expired"
    api.stack.pay(found)
    api.stack.confirm()
    api.stack.run()
    status = api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert status["state"] == "expired"
    assert status["excess"] == {"amount": str(found.usdt.amount), "asset": "USDT"}, status
    assert status["excess_refund"] in ("requested", "sent")
    api.stack.confirm_refunds()
    api.stack.run()
    assert api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()["excess_refund"] == "confirmed"


def test_usdc_sent_to_the_order_s_usdt_address_shows_on_the_status_in_english_and_swahili(api: Api):
    """Review6: USDC to the order's USDT address is recorded as a wrong-asset payment, and the public status used to
    show a bare ``awaiting_payment``: it now lists the USDC under ``wrong_payments`` and says, in English and
    Swahili, that it does not pay the order, goes back whole to the refund address, and what the order still
    awaits; once refunded, that it was sent back."""
    body = {**BODY, "refund_address": EVM_REFUND}
    opened = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("usdc")})
    public_id = opened.get_json()["public_id"]
    assert opened.get_json()["wrong_payments"] == [] and opened.get_json()["notice"] is None
    found = api.stack.remittances.get_public(public_id)
    address = next(o.address for o in api.stack.remittances.invoice(found).options if o.rail.network.name == "ethereum")
    api.stack.chains["ethereum"].pay(address, Money.of(found.usdt.amount, USDC))
    api.stack.confirm(1)  # seen, not yet as deep as a refund needs
    status = api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert status["state"] == "awaiting_payment"
    [wrong] = status["wrong_payments"]
    assert (wrong["amount"], wrong["network"], wrong["wrong"], wrong["state"]) == (
        {"amount": str(found.usdt.amount), "asset": "USDC"},
        "ethereum",
        "asset",
        "pending",
    )
    usdc, usdt = f"{found.usdt.amount} USDC", f"{found.usdt.amount} USDT"
    assert status["notice"]["en"] == (
        f"{usdc} reached this order's address on Ethereum. This order takes only the USDT payments it lists, so this "
        f"does not pay it: it will be sent back whole to your refund address. The order still awaits {usdt}."
    )
    assert status["notice"]["sw"].startswith(f"{usdc} zimefika kwenye anwani ya agizo hili kupitia Ethereum.")
    assert status["notice"]["sw"].endswith(f"Agizo bado linasubiri {usdt}.")
    api.stack.confirm(12)
    api.stack.run(rounds=1)
    status = api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert status["wrong_payments"][0]["state"] == "refunded" and status["excess_refund"] in ("requested", "sent")
    assert "it was sent back whole to your refund address" in status["notice"]["en"]
    assert "yamerudishwa yote" in status["notice"]["sw"]


def test_dust_of_the_wrong_asset_is_not_promised_back_on_the_status(api: Api):
    """review8 R1: 0.000001 USDC to the order's USDT address is no longer sent back on chain (the network's fee would
    be the platform's): the status lists it, ``pending``, with ``excess_refund`` ``needs_operator``, and the notice
    says, in English and Swahili, that it is too small to be sent back automatically (never that it will be)."""
    body = {**BODY, "refund_address": EVM_REFUND}
    opened = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("dust")})
    public_id = opened.get_json()["public_id"]
    found = api.stack.remittances.get_public(public_id)
    address = next(o.address for o in api.stack.remittances.invoice(found).options if o.rail.network.name == "ethereum")
    api.stack.chains["ethereum"].pay(address, Money.of("0.000001", USDC))
    api.stack.confirm(12)
    api.stack.run(rounds=2)
    status = api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert [w["state"] for w in status["wrong_payments"]] == ["pending"]
    assert status["excess_refund"] == "needs_operator" and status["excess"] is None
    assert "too small to be sent back automatically" in status["notice"]["en"]
    assert "will be sent back" not in status["notice"]["en"]
    assert "kidogo mno kurudishwa kiotomatiki" in status["notice"]["sw"]


def test_a_stray_above_the_floor_but_under_the_network_s_fee_is_not_promised_back(api: Api):
    """lastread B1: 1.5 USDC to the order's Ethereum address while the network's fee is 2 USDC (2.5 with the margin):
    above the floor, yet the worker holds it for an operator as it holds dust. The status used to promise it "sent
    back whole to your refund address"; it now reads the core's marker (``strays_held``): too small to be sent back
    automatically, in English and Swahili, ``excess_refund`` ``needs_operator``."""
    from cryptopay.core.testing.withdrawals import FakeFeeEstimator

    estimator = FakeFeeEstimator(Money.of("2", USDC))
    api.stack.remittances.estimators = lambda: {"ethereum": estimator}
    body = {**BODY, "refund_address": EVM_REFUND}
    opened = api.client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("fee")})
    public_id = opened.get_json()["public_id"]
    found = api.stack.remittances.get_public(public_id)
    address = next(o.address for o in api.stack.remittances.invoice(found).options if o.rail.network.name == "ethereum")
    api.stack.chains["ethereum"].pay(address, Money.of("1.5", USDC))
    api.stack.confirm(12)
    api.stack.run(rounds=2)
    assert api.stack.remittances.get_public(public_id).strays_held != ()
    status = api.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert [w["state"] for w in status["wrong_payments"]] == ["pending"]
    assert status["excess_refund"] == "needs_operator" and status["excess"] is None
    assert "too small to be sent back automatically" in status["notice"]["en"]
    assert "will be sent back" not in status["notice"]["en"]
    assert "kidogo mno kurudishwa kiotomatiki" in status["notice"]["sw"]
