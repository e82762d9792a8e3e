"""Cashing out the wallet's shillings over REST (F10), on the root's real SQL services (SQLite and PostgreSQL):
``POST /v1/wallet/cashouts`` pays whole shillings of the KES balance to my own number, keyed, followed as a sale;
refusals are problem+json and move nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.core.flows import wallet_account
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import KES, Money

from tests.integration.http.http_support import database_env
from tests.integration.http.test_http_wallet import WalletApi, _api


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    with database_env(request, env, "cryptopay_http_cashout") as settings:
        yield from _api(settings, tmp_path)


def _shillings(api: WalletApi, user_id: str, amount: str) -> None:
    """Shillings in the wallet, as a failed sale leaves them."""
    source = Account("assets:inventory:KES", AccountKind.ASSET, KES, allow_negative=True)
    api.services.ledger.open_account(source)
    api.services.ledger.transfer(
        f"kes:{user_id}", debit=source.code, credit=wallet_account(user_id, KES), amount=Money.of(amount, KES)
    )


def _balance(api: WalletApi, headers: dict[str, str]) -> str:
    balances = api.client.get("/v1/wallet/balances", headers=headers).get_json()
    return next(b["amount"] for b in balances if b["asset"] == "KES")


def test_whole_shillings_are_cashed_out_to_my_own_number_once(api: WalletApi):
    user = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(user)
    _shillings(api, user, "128.68")
    headers = api.login("0712000001")
    keyed = {**headers, "Idempotency-Key": "c-1"}
    first = api.client.post("/v1/wallet/cashouts", json={"kes": "128"}, headers=keyed)
    again = api.client.post("/v1/wallet/cashouts", json={"kes": "128"}, headers=keyed)
    assert first.status_code == 201, first.get_json()
    view = first.get_json()
    assert again.get_json()["id"] == view["id"]
    assert (view["phone"], view["usdt"]["amount"], view["kes"]["amount"]) == ("254712000001", "0.000000", "128.00")
    assert Money.of(view["paid_out"]["amount"], KES) + Money.of(view["charge"]["amount"], KES) == Money.of(128, KES)
    assert first.headers["Location"] == f"/v1/wallet/sells/{view['id']}"
    shown = api.client.get(f"/v1/wallet/sells/{view['id']}", headers=headers).get_json()
    assert (shown["state"], shown["kes"]["amount"]) == ("planned", "128.00")
    assert _balance(api, headers) == "0.68"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kes": "128.50"}, 422, "validation_failed"),  # whole shillings only
        ({"kes": "9"}, 422, "amount_below_minimum"),  # below M-Pesa's KES 10 (R14-19: not a KYC limit)
        ({"kes": "129"}, 422, "insufficient_funds"),  # beyond the balance
        ({"amount": "103", "currency": "KES"}, 422, "amount_not_payable"),  # review7 F10: 100 free or 106 and 5
        ({}, 422, "validation_failed"),
    ],
)
def test_refusals_are_problems_and_move_nothing(api: WalletApi, body, status, code):
    user = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(user)
    _shillings(api, user, "128.68")
    headers = api.login("0712000001")
    answer = api.client.post("/v1/wallet/cashouts", json=body, headers={**headers, "Idempotency-Key": "c-x"})
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["code"] == code
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert _balance(api, headers) == "128.68"
    if code == "amount_below_minimum":  # names the field and the bound, as every amount_below_minimum does
        assert answer.get_json()["minimum"] == "10"
        assert [e["field"] for e in answer.get_json()["errors"]] == ["amount"]


def test_my_sales_and_cash_outs_are_listed_newest_first_a_page_at_a_time(api: WalletApi):
    """``GET /v1/wallet/sells`` pages like the other wallet lists: newest first, ``next_cursor`` passed back; another
    wallet's sales never appear; a cursor of another list is a 422."""
    user, other = api.sign_up("0712000001")["user"]["id"], api.sign_up("0712000002")["user"]["id"]
    for who in (user, other):
        api.tier_1(who)
        _shillings(api, who, "500")
    headers, theirs = api.login("0712000001"), api.login("0712000002")
    made = []
    for n, kes in enumerate(("100", "120")):
        done = api.client.post(
            "/v1/wallet/cashouts", json={"kes": kes}, headers={**headers, "Idempotency-Key": f"l{n}"}
        )
        assert done.status_code == 201, done.get_json()
        made.append(done.get_json()["id"])
    other_sale = api.client.post("/v1/wallet/cashouts", json={"kes": "100"}, headers={**theirs, "Idempotency-Key": "o"})
    assert other_sale.status_code == 201
    first = api.client.get("/v1/wallet/sells?limit=1", headers=headers).get_json()
    assert [s["id"] for s in first["data"]] == [made[1]] and first["next_cursor"]
    assert first["data"][0]["kes"]["amount"] == "120.00" and first["data"][0]["state"] == "planned"
    rest = api.client.get(f"/v1/wallet/sells?limit=1&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [s["id"] for s in rest["data"]] == [made[0]] and rest["next_cursor"] is None
    mine = api.client.get("/v1/wallet/sells", headers=headers).get_json()["data"]
    assert [s["id"] for s in mine] == [made[1], made[0]]
    assert [s["id"] for s in api.client.get("/v1/wallet/sells", headers=theirs).get_json()["data"]] == [
        other_sale.get_json()["id"]
    ]
    wrong = api.client.get("/v1/wallet/sells?cursor=buy_1", headers=headers)
    assert wrong.status_code == 422 and wrong.content_type == "application/problem+json"


def test_a_cash_out_m_pesa_cannot_pay_whole_is_refused_naming_what_can_be(api: WalletApi):
    """Review7 F10: KES 103 took 100 (sent free) while the 201 said ``kes`` 103 and the sale read back said 100. Now a
    422 naming KES 100 and 106; each of those cashes out exactly, the 201 and the sale read back alike."""
    user = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(user)
    _shillings(api, user, "300")
    headers = api.login("0712000001")
    asked = {"amount": "103", "currency": "KES"}
    refused = api.client.post("/v1/wallet/cashouts", json=asked, headers={**headers, "Idempotency-Key": "c-103"})
    problem = refused.get_json()
    assert refused.status_code == 422 and problem["code"] == "amount_not_payable", problem
    assert "cash out KES 100 or KES 106" in problem["detail"], problem
    assert (problem["payable_below"], problem["payable_above"]) == ("100.00", "106.00"), problem  # the OpenAPI says
    assert _balance(api, headers) == "300.00"
    for amount in ("100", "106"):
        body = {"amount": amount, "currency": "KES"}
        made = api.client.post("/v1/wallet/cashouts", json=body, headers={**headers, "Idempotency-Key": f"c-{amount}"})
        view = made.get_json()
        assert made.status_code == 201, view
        paid = Money.of(view["paid_out"]["amount"], KES) + Money.of(view["charge"]["amount"], KES)
        assert view["kes"]["amount"] == f"{amount}.00" and paid == Money.of(amount, KES)
        shown = api.client.get(f"/v1/wallet/sells/{view['id']}", headers=headers).get_json()
        assert shown["kes"] == view["kes"]
    assert _balance(api, headers) == "94.00"


def test_one_wallet_cashes_out_and_sells_at_most_payout_rate_limit_times_a_minute(api: WalletApi):
    """Review7 F12: each cash-out is a B2C payout from the shortcode (a KES 10 one is free), and one wallet queued 60
    in 4.5 s. Now sales and cash-outs are paced per wallet, one count (``payout_rate_limit`` a minute): past it a 429
    with Retry-After, nothing planned. The 429 does not use up the Idempotency-Key (review7 F4): after the window the
    same request and key are cashed out."""
    from cryptopay_http import ApiSettings

    from tests.integration.http.test_http_wallet import in_one_window

    api, window = in_one_window(api)
    user = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(user)
    _shillings(api, user, "1000")
    headers = api.login("0712000001")
    limit = ApiSettings(token_secret="x" * 32).payout_rate_limit
    ten = {"amount": "10", "currency": "KES"}
    for n in range(limit):
        made = api.client.post("/v1/wallet/cashouts", json=ten, headers={**headers, "Idempotency-Key": f"p{n}"})
        assert made.status_code == 201, made.get_json()
    replay = api.client.post("/v1/wallet/cashouts", json=ten, headers={**headers, "Idempotency-Key": "p0"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"  # a replay is not counted
    keyed = {**headers, "Idempotency-Key": "p-over"}
    for _ in range(2):  # the same key again: refused afresh (Retry-After), never replayed as a stored 429
        refused = api.client.post("/v1/wallet/cashouts", json=ten, headers=keyed)
        assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited", refused.get_json()
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert int(refused.headers["Retry-After"]) > 0 and "Idempotent-Replayed" not in refused.headers
    sell = api.client.post(
        "/v1/wallet/sells", json={"amount": "1", "currency": "USDT"}, headers={**headers, "Idempotency-Key": "s-1"}
    )
    assert sell.status_code == 429, sell.get_json()  # sales, cash-outs and bills: one count
    bill = {"biller": "kplc-prepaid", "account": "37192837465", "amount": "100", "currency": "KES"}
    paid = api.client.post("/v1/wallet/bills", json=bill, headers={**headers, "Idempotency-Key": "b-1"})
    assert paid.status_code == 429, paid.get_json()
    listed = api.client.get("/v1/wallet/sells", headers=headers).get_json()["data"]
    assert len(listed) == limit and _balance(api, headers) == f"{1000 - 10 * limit}.00"
    window.advance(minutes=1)  # the next minute: the same request and key go through
    later = api.client.post("/v1/wallet/cashouts", json=ten, headers=keyed)
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers, later.get_json()
    operations = api.client.get("/openapi.json").get_json()["paths"]
    for path in ("/v1/wallet/cashouts", "/v1/wallet/sells", "/v1/wallet/bills"):
        assert "`payout_rate_limit`" in operations[path]["post"]["description"], path
