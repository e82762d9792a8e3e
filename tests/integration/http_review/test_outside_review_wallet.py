"""Outside review: an attacker against the personal wallet routes and their M-Pesa hooks (SQLite root services).

Another user's transfers, buys, sales and bills are 404s; odd amounts and text are 4xx problems that move nothing;
an STK callback with a wrong token, amount or phone credits nothing; a bill's B2B result with a wrong token or a
changed amount completes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, payout_urls, ready
from cryptopay.core.flows import wallet_account
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import USDT, Money
from cryptopay.core.payouts.service import Payouts
from cryptopay.core.pricing import Pricer
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.core.wallets.bills import Bills
from cryptopay.core.wallets.buys import Buys
from cryptopay.core.wallets.sells import Sells

from tests.integration.http.http_support import fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi
from tests.support.sql_backends import migrated_sqlite

PUBLIC = "https://pay.example.com"
PROBLEM = "application/problem+json"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": PUBLIC}
    migrated_sqlite(env)
    root = build(RootSettings.from_env(env))
    try:
        mpesa = FakeMobileMoney(clock=root.clock)
        quotes = InMemoryQuoteRepository()
        rates = FixedRateSource("market", root.clock, {"USDT/KES": "130", "USDT/USD": "1"})
        pricer = Pricer([rates], clock=root.clock, ids=root.ids, quotes=quotes)
        buys = Buys(
            root.uow,
            root.ledger,
            lambda: pricer,
            lambda: quotes,
            lambda: mpesa,
            lambda token: f"{PUBLIC}/hooks/daraja/stk/{token}",
            root.clock,
            root.ids,
        )
        sells = Sells(root.uow, root.ledger, lambda: pricer, lambda: quotes, root.clock, root.ids)
        bills = Bills(root.uow, root.ledger, lambda: pricer, lambda: quotes, root.clock, root.ids)
        payouts = Payouts(
            uow=root.uow, clock=root.clock, ids=root.ids, ledger=root.ledger, gateway=mpesa, urls=payout_urls(PUBLIC)
        )
        services = attrs.evolve(
            root,
            password_hasher=ready(fast_hasher()),
            wallet_buys=ready(buys),
            wallet_sells=ready(sells),
            wallet_bills=ready(bills),
            payouts=ready(payouts),
        )
        yield WalletApi(make_app(services).test_client(), services, tmp_path / "sms.jsonl", mpesa)
    finally:
        root.close()


def _problem(answer: Any, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == PROBLEM, answer.content_type


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def _two_users(api: WalletApi) -> tuple[str, dict[str, str], str, dict[str, str]]:
    amina = api.sign_up("0712000001")["user"]["id"]
    baraka = api.sign_up("0712000002")["user"]["id"]
    for user in (amina, baraka):
        api.tier_1(user)
    api.fund(amina, "5000")
    # stepped up: odd amounts (1e9) reach the amount's own checks past the send's step-up (review5 S4)
    return amina, api.login("0712000001", stepped_up=True), baraka, api.login("0712000002")


def _give_usdt(api: WalletApi, user: str, amount: int) -> None:
    inventory = Account("assets:inventory:USDT", AccountKind.ASSET, USDT, allow_negative=True)
    api.services.ledger.open_account(inventory)
    api.services.ledger.transfer(
        f"give:{user}", debit=inventory.code, credit=wallet_account(user, USDT), amount=Money.of(amount, USDT)
    )


def test_another_user_gets_404_for_my_transfers_buys_sales_and_bills(api: WalletApi):
    amina, mine, _, theirs = _two_users(api)
    sent = api.client.post(
        "/v1/wallet/transfers",
        json={"to": "0712000002", "amount": {"amount": "50", "asset": "KES"}},
        headers=_keyed(mine, "t1"),
    ).get_json()
    buy = api.client.post("/v1/wallet/buys", json={"kes": "100"}, headers=_keyed(mine, "b1")).get_json()
    _give_usdt(api, amina, 10)
    sale = api.client.post("/v1/wallet/sells", json={"usdt": "5"}, headers=_keyed(mine, "s1")).get_json()
    bill = api.client.post(
        "/v1/wallet/bills",
        json={"biller": "KPLC_PREPAID", "account": "01234567890", "amount": "100"},
        headers=_keyed(mine, "bill1"),
    ).get_json()
    # Baraka received the transfer, so he may see it; a third user may not
    api.sign_up("0712000003")
    stranger = api.login("0712000003")
    assert api.client.get(f"/v1/wallet/transfers/{sent['id']}", headers=theirs).status_code == 200
    for path in (
        f"/v1/wallet/transfers/{sent['id']}",
        f"/v1/wallet/buys/{buy['id']}",
        f"/v1/wallet/sells/{sale['id']}",
        f"/v1/wallet/bills/{bill['id']}",
    ):
        _problem(api.client.get(path, headers=stranger), 404)
    for path in ("/v1/wallet/buys", "/v1/wallet/bills", "/v1/wallet/transfers", "/v1/wallet/history"):
        body = api.client.get(path, headers=stranger).get_json()
        assert body in ([], {"data": [], "next_cursor": None}) or body.get("data") == [], (path, body)


ODD_TRANSFERS = [
    {"to": "0712000002", "amount": {"amount": "-10", "asset": "KES"}},
    {"to": "0712000002", "amount": {"amount": "0", "asset": "KES"}},
    {"to": "0712000002", "amount": {"amount": "NaN", "asset": "KES"}},
    {"to": "0712000002", "amount": {"amount": "1e9", "asset": "KES"}},
    {"to": "0712000002", "amount": {"amount": "10.001", "asset": "KES"}},
    {"to": "0712000002", "amount": {"amount": "999999999999999999", "asset": "KES"}},
    {"to": "0712000002", "amount": {"amount": "10", "asset": "XYZ"}},
    {"to": "0712000002", "amount": {"amount": 10, "asset": "KES"}},
    {"to": "0712000002", "amount": {"amount": "50", "asset": "KES"}, "note": "rent\u0000"},
    {"to": "0712000002", "amount": {"amount": "50", "asset": "KES"}, "note": "\u202erent"},
    {"to": "0712000002", "amount": {"amount": "50", "asset": "KES"}, "note": "\udc00"},
    {"to": "0712000001", "amount": {"amount": "50", "asset": "KES"}},
    {"to": "0712000002\u0000", "amount": {"amount": "50", "asset": "KES"}},
    {"to": "+254 712 000 002; drop", "amount": {"amount": "50", "asset": "KES"}},
]


def test_odd_transfers_are_4xx_problems_that_move_nothing(api: WalletApi):
    amina, mine, baraka, _ = _two_users(api)
    for n, body in enumerate(ODD_TRANSFERS):
        answer = api.client.post("/v1/wallet/transfers", json=body, headers=_keyed(mine, f"odd-{n}"))
        _problem(answer, 400, 404, 409, 422)
    assert api.services.wallets.balances(amina)["KES"].amount == 5000
    assert api.services.wallets.balances(baraka)["KES"].amount == 0


def test_a_transfer_key_reused_with_another_body_is_a_conflict(api: WalletApi):
    _, mine, baraka, _ = _two_users(api)
    body = {"to": "0712000002", "amount": {"amount": "50", "asset": "KES"}}
    assert api.client.post("/v1/wallet/transfers", json=body, headers=_keyed(mine, "k")).status_code == 201
    changed = {"to": "0712000002", "amount": {"amount": "4000", "asset": "KES"}}
    _problem(api.client.post("/v1/wallet/transfers", json=changed, headers=_keyed(mine, "k")), 409)
    assert api.services.wallets.balances(baraka)["KES"].amount == 50


def _callback_item(payload: dict[str, Any], name: str) -> dict[str, Any]:
    items = payload["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    return next(item for item in items if item["Name"] == name)


@pytest.mark.parametrize(("item", "value"), [("Amount", 1), ("Amount", 100000), ("PhoneNumber", 254799999999)])
def test_an_stk_callback_with_a_changed_amount_or_phone_credits_nothing(api: WalletApi, item: str, value: int):
    amina = api.sign_up("0712000001")["user"]["id"]
    headers = api.login("0712000001")
    buy = api.client.post("/v1/wallet/buys", json={"kes": "1000"}, headers=_keyed(headers, "b")).get_json()
    (delivery,) = api.mpesa.outbox
    payload = copy.deepcopy(delivery.payload)
    if payload["Body"]["stkCallback"].get("CallbackMetadata") is None:
        pytest.skip("the fake answered a failure")
    _callback_item(payload, item)["Value"] = value
    path = delivery.url.removeprefix(PUBLIC)
    answer = api.client.post(path, json=payload)
    assert answer.status_code < 500
    shown = api.client.get(f"/v1/wallet/buys/{buy['id']}", headers=headers).get_json()
    assert shown["state"] != "credited", shown
    assert api.services.wallets.balances(amina)["USDT"].amount == 0
    wrong_token = api.client.post("/hooks/daraja/stk/" + "A" * 43, json=delivery.payload)
    assert wrong_token.status_code == 403
    assert api.services.wallets.balances(amina)["USDT"].amount == 0
    # the control: M-Pesa's own callback on the used token is kept, not applied; STK Query, asked at once, credits
    assert api.client.post(path, json=delivery.payload).status_code == 200
    assert api.client.get(f"/v1/wallet/buys/{buy['id']}", headers=headers).get_json()["state"] == "prompted"
    assert api.services.wallet_buys.follow_up() == 1
    credited = api.client.get(f"/v1/wallet/buys/{buy['id']}", headers=headers).get_json()
    assert credited["state"] == "credited", credited


def test_a_bill_result_with_a_wrong_token_or_a_changed_amount_completes_nothing(api: WalletApi):
    amina = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(amina)
    api.fund(amina, "2000")
    headers = api.login("0712000001")
    body = {"biller": "KPLC_PREPAID", "account": "01234567890", "amount": "1000"}
    bill = api.client.post("/v1/wallet/bills", json=body, headers=_keyed(headers, "bill")).get_json()
    api.services.payouts.submit_payouts()
    delivered, api.mpesa.outbox[:] = list(api.mpesa.outbox), []
    (result,) = delivered
    path = result.url.removeprefix(PUBLIC)
    forged = path.rsplit("/", 1)[0] + "/" + "B" * 43
    answer = api.client.post(forged, json=result.payload)
    assert answer.status_code in (200, 403), answer.get_data(as_text=True)
    shown = api.client.get(f"/v1/wallet/bills/{bill['id']}", headers=headers).get_json()
    assert shown["state"] != "completed", shown
    assert api.services.wallets.balances(amina)["KES"].amount == 1000
    changed = copy.deepcopy(result.payload)
    for parameter in changed["Result"]["ResultParameters"]["ResultParameter"]:
        if parameter["Key"] == "Amount":
            parameter["Value"] = 1
    mismatch = api.client.post(path, json=changed)
    assert mismatch.status_code < 500, mismatch.get_data(as_text=True)
    # a result that does not match what was sent is not believed: the bill waits for a Transaction Status query
    shown = api.client.get(f"/v1/wallet/bills/{bill['id']}", headers=headers).get_json()
    assert shown["state"] == "unknown", shown
    assert api.services.wallets.balances(amina)["KES"].amount == 1000


def test_a_sender_s_note_cannot_plant_a_formula_in_the_recipient_s_statement(api: WalletApi):
    """A P2P note starting with ``=`` reaches the recipient's CSV statement, if at all, never as a formula."""
    _, mine, _, theirs = _two_users(api)
    note = '=HYPERLINK("https://evil.example","refund")'
    body = {"to": "0712000002", "amount": {"amount": "50", "asset": "KES"}, "note": note}
    assert api.client.post("/v1/wallet/transfers", json=body, headers=_keyed(mine, "n")).status_code == 201
    month = api.services.clock.now().strftime("%Y-%m")
    statement = api.client.get(f"/v1/wallet/statements/{month}", headers=theirs)
    assert statement.status_code == 200
    for line in statement.get_data(as_text=True).splitlines():
        assert not any(cell.startswith(("=", "+", "-@", "@")) for cell in line.split(",")[4:]), line


def test_no_stk_callback_token_reaches_a_log_line_or_a_response(api: WalletApi, caplog: pytest.LogCaptureFixture):
    """The per-request token in M-Pesa's callback URL is a secret: not in the logs, not in the buyer's views."""
    import logging

    caplog.set_level(logging.DEBUG)
    api.sign_up("0712000001")
    headers = api.login("0712000001")
    buy = api.client.post("/v1/wallet/buys", json={"kes": "1000"}, headers=_keyed(headers, "b")).get_json()
    (delivery,) = api.mpesa.outbox
    token = delivery.url.rsplit("/", 1)[1]
    assert len(token) >= 20
    api.client.post(delivery.url.removeprefix(PUBLIC), json=delivery.payload)
    api.client.post(delivery.url.removeprefix(PUBLIC)[:-1] + "x", json=delivery.payload)
    shown = api.client.get(f"/v1/wallet/buys/{buy['id']}", headers=headers).get_data(as_text=True)
    listed = api.client.get("/v1/wallet/buys", headers=headers).get_data(as_text=True)
    assert token not in caplog.text and token[:-1] not in caplog.text
    assert token not in shown + listed + str(buy)


def test_a_bare_stk_success_on_a_cancelled_buy_credits_nothing(api: WalletApi):
    """The reviewer's reproduction over HTTP: a buy the buyer cancelled (1032), then ResultCode 0 with no
    CallbackMetadata on its token: 200 (Daraja is not asked to retry), the buy stays failed with no receipt."""
    amina = api.sign_up("0711000001")["user"]["id"]  # the fake's buyer who cancels
    headers = api.login("0711000001")
    buy = api.client.post("/v1/wallet/buys", json={"kes": "500"}, headers=_keyed(headers, "b")).get_json()
    (delivery,) = api.mpesa.outbox
    path = delivery.url.removeprefix(PUBLIC)
    assert api.client.post(path, json=delivery.payload).status_code == 200
    checkout = delivery.payload["Body"]["stkCallback"]["CheckoutRequestID"]
    bare = {"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": checkout, "ResultCode": 0}}}
    bare["Body"]["stkCallback"]["ResultDesc"] = "ok"
    assert api.client.post(path, json=bare).status_code == 200
    shown = api.client.get(f"/v1/wallet/buys/{buy['id']}", headers=headers).get_json()
    assert shown["state"] == "failed" and not shown.get("receipt"), shown
    assert api.services.wallets.balances(amina)["USDT"].amount == 0
