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
        ({"kes": "9"}, 422, "limit_exceeded"),  # below M-Pesa's KES 10
        ({"kes": "129"}, 422, "insufficient_funds"),  # beyond the balance
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
