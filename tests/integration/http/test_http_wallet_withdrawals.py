"""Withdrawing crypto over REST on the root's real SQL services (SQLite and PostgreSQL): quote, step-up, an
Idempotency-Key, problem+json refusals by name; the chain is a fake hot-wallet sender (anvil runs in the features)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptopay.adapters.bootstrap import Services, build, ready
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.sanctions import parse_list
from cryptopay.core.flows import wallet_account
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.internal import PlatformAddresses
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.pricing import Pricer
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.core.testing.payments_stack import FakeChainSender
from cryptopay.core.wallets.withdrawals import Withdrawals

from tests.integration.http.http_support import PASSWORD, database_env, fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi
from tests.support.withdraw_stack import SANCTIONED, SDN

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"
HOT = "0xde709f2102306220921060314715629080e2fb77"  # the Polygon hot wallet's, in these tests
DEPOSIT = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"  # registered as a deposit address in a test below


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    with database_env(request, env, "cryptopay_http_withdraw") as settings:
        yield from _api(settings, tmp_path)


def polygon_withdrawals(root: Services, sender: FakeChainSender, **options: Any) -> Withdrawals:
    """The withdrawals use case of ``root`` on one rail (USDT on Polygon, sent by ``sender``), priced at 130 KES."""
    rates = FixedRateSource("market", root.clock, {"USDT/KES": "130", "USDT/USD": "1"})
    pricer = Pricer([rates], clock=root.clock, ids=root.ids, quotes=InMemoryQuoteRepository())
    rails = {r.key: r for r in (rail_for("polygon", "USDT"),)}
    return Withdrawals(
        uow=root.uow,
        ledger=root.ledger,
        clock=root.clock,
        ids=root.ids,
        quoter=lambda: pricer,
        rails=lambda: rails,
        senders=lambda: {"polygon": sender},
        screening=root.screening,
        monitoring=root.monitoring,
        **options,
    )


def _api(env: dict[str, str], data_dir: Path) -> Iterator[WalletApi]:
    root = build(RootSettings.from_env(env))
    try:
        parsed = parse_list(SDN.read_bytes())
        root.screening.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
        withdrawals = polygon_withdrawals(
            root, FakeChainSender("polygon"), platform=PlatformAddresses({"polygon": HOT})
        )
        services = attrs.evolve(root, password_hasher=ready(fast_hasher()), withdrawals=ready(withdrawals))
        yield WalletApi(make_app(services).test_client(), services, data_dir / "sms.jsonl", FakeMobileMoney())
    finally:
        root.close()


def _usdt(api: WalletApi, user_id: str, amount: str) -> None:
    ledger, source = api.services.ledger, "assets:inventory:USDT"
    ledger.open_account(Account(source, AccountKind.ASSET, USDT, allow_negative=True))
    ledger.transfer(
        f"fund:{user_id}", debit=source, credit=wallet_account(user_id, USDT), amount=Money.of(amount, USDT)
    )


def _ready(api: WalletApi) -> tuple[str, dict[str, str]]:
    amina = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(amina)
    _usdt(api, amina, "300")
    headers = api.login("0712000001")
    answer = api.client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return amina, {**headers, "X-Step-Up-Token": answer.get_json()["step_up_token"]}


def test_quote_then_a_keyed_stepped_up_withdrawal_is_made_once(api: WalletApi):
    """The quote shows fee, total and the cool-off; without a step-up it is 403; a retried key replays the answer."""
    _, headers = _ready(api)
    body = {"network": "polygon", "address": ADDRESS, "asset": "USDT", "amount": "100"}
    quote = api.client.post("/v1/wallet/withdrawal-quotes", json=body, headers=headers)
    assert quote.status_code == 200, quote.get_json()
    shown = quote.get_json()
    assert (shown["fee"]["amount"], shown["total"]["amount"], shown["first_time_address"]) == (
        "1.000000",
        "101.000000",
        True,
    )
    assert (shown["schedule_fee"]["amount"], shown["network_fee"], shown["network_fee_value"]) == (
        "1.000000",
        None,
        None,
    )
    plain = {k: v for k, v in headers.items() if k != "X-Step-Up-Token"}
    refused = api.client.post("/v1/wallet/withdrawals", json=body, headers={**plain, "Idempotency-Key": "w-0"})
    assert refused.status_code == 403 and refused.get_json()["code"] == "step_up_required"
    keyed = {**headers, "Idempotency-Key": "w-1"}
    first = api.client.post("/v1/wallet/withdrawals", json=body, headers=keyed)
    again = api.client.post("/v1/wallet/withdrawals", json=body, headers=keyed)
    assert first.status_code == 201, first.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    listed = api.client.get("/v1/wallet/withdrawals", headers=headers).get_json()
    assert [w["id"] for w in listed["data"]] == [first.get_json()["id"]]
    shown = api.client.get(f"/v1/wallet/withdrawals/{first.get_json()['id']}", headers=headers).get_json()
    assert (shown["state"], shown["amount"]["amount"], shown["failure_code"]) == ("requested", "100.000000", None)
    balances = api.client.get("/v1/wallet/balances", headers=headers).get_json()
    assert next(b["amount"] for b in balances if b["asset"] == "USDT") == "199.000000"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"address": "TLsanctionedTronAddressXXXXXXXXXXX"}, 422, "invalid_input"),
        ({"address": SANCTIONED}, 422, "blocked_by_compliance"),
        ({"amount": "400"}, 422, "limit_exceeded"),
        ({"amount": "1.1234567"}, 422, "validation_failed"),  # more places than USDT has, like any field
        ({"network": "tron"}, 422, "invalid_input"),
        ({"max_fee": "0.5"}, 409, "fee_changed"),  # the fee is 1 USDT now: above what the user was shown
        ({"max_fee": "1.1234567"}, 422, "invalid_input"),
        ({"asset": "USDC"}, 422, "validation_failed"),  # wallets hold USDT, whatever stablecoin came in
    ],
)
def test_refusals_are_problems_and_move_nothing(api: WalletApi, change, status, code):
    """A bad address, a sanctioned one, a limit, too many places, an unconfigured rail: 4xx and the balance stays."""
    _, headers = _ready(api)
    body = {"network": "polygon", "address": ADDRESS, "asset": "USDT", "amount": "100"} | change
    answer = api.client.post("/v1/wallet/withdrawals", json=body, headers={**headers, "Idempotency-Key": "w-x"})
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["code"] == code
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    balances = api.client.get("/v1/wallet/balances", headers=headers).get_json()
    assert next(b["amount"] for b in balances if b["asset"] == "USDT") == "300.000000"
    if code == "limit_exceeded":
        assert answer.get_json()["limit"] == "withdraw.single"


@pytest.mark.parametrize("owner", ["hot wallet", "another wallet", "own wallet", "invoice"])
def test_an_address_the_platform_controls_is_refused_by_the_quote_and_the_withdrawal(api: WalletApi, owner: str):
    """H20: the hot wallet (in any case), a wallet's deposit address (derived on Ethereum: the same key on Polygon),
    the user's own, an invoice's: 422 ``internal_address`` problem+json from both endpoints; nothing is held."""
    amina, headers = _ready(api)
    address = HOT.upper().replace("0X", "0x") if owner == "hot wallet" else DEPOSIT
    if owner != "hot wallet":
        now = api.services.clock.now()
        user = {"another wallet": "usr_other", "own wallet": amina}.get(owner)
        invoice = ("inv_1", "mer_1") if owner == "invoice" else (None, None)
        with api.services.uow() as uow:
            uow.deposit_addresses.add(DepositAddress("ethereum", DEPOSIT, 5, *invoice, now, user_id=user))
    body = {"network": "polygon", "address": address, "currency": "USDT", "amount": "10"}
    quote = api.client.post("/v1/wallet/withdrawal-quotes", json=body, headers=headers)
    made = api.client.post("/v1/wallet/withdrawals", json=body, headers={**headers, "Idempotency-Key": "w-in"})
    for answer in (quote, made):
        assert answer.status_code == 422, answer.get_json()
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        problem = answer.get_json()
        assert (problem["code"], problem["errors"][0]["field"]) == ("internal_address", "address"), problem
        assert "phone or username" in problem["detail"]
    assert api.client.get("/v1/wallet/withdrawals", headers=headers).get_json()["data"] == []
    balances = api.client.get("/v1/wallet/balances", headers=headers).get_json()
    assert next(b["amount"] for b in balances if b["asset"] == "USDT") == "300.000000"
