"""Paying bills over REST on the root's real SQL services (SQLite and PostgreSQL), M-Pesa's results through the hooks.

M-Pesa is the in-memory fake (its simulated billers: 888880 returns a prepaid token, account 00000000000 is
refused); its results are POSTed to the API's own Daraja hook URLs, as Safaricom would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, payout_urls, ready
from cryptopay.adapters.ratelimit.process import ProcessRateLimiter
from cryptopay.core.flows import wallet_account
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts.service import Payouts
from cryptopay.core.ports.system import Clock
from cryptopay.core.pricing import Pricer
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.mobile_money import REJECTED_ACCOUNT, FakeMobileMoney
from cryptopay.core.testing.system import ManualClock
from cryptopay.core.wallets.bills import Bills
from cryptopay.core.wallets.buys import Buys

from tests.integration.http.http_support import database_env, fast_hasher, make_app, migrated_sqlite
from tests.integration.http.test_http_wallet import WalletApi

PUBLIC = "https://pay.example.com"


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": PUBLIC}
    with database_env(request, env, "cryptopay_http_bills") as settings:
        yield from _api(settings, tmp_path)


def _api(env: dict[str, str], data_dir: Path, clock: Clock | None = None, **settings: Any) -> Iterator[WalletApi]:
    """The root's services with bills priced at a fixed 130 KES per USDT; ``clock`` (the root's if None) prices
    and pays the bills, so a test can let a bill's quote expire, and counts the rate limits' windows (on the
    system clock, a test's run of calls could straddle a window's end and find its count started again)."""
    root = build(RootSettings.from_env(env))
    try:
        mpesa = FakeMobileMoney(clock=root.clock)
        quotes = InMemoryQuoteRepository()
        bill_clock = clock or root.clock
        rates = FixedRateSource("market", bill_clock, {"USDT/KES": "130", "USDT/USD": "1"})
        pricer = Pricer([rates], clock=bill_clock, ids=root.ids, quotes=quotes)
        bills = Bills(root.uow, root.ledger, lambda: pricer, lambda: quotes, bill_clock, root.ids)
        buys = Buys(  # POST /v1/wallet/quotes locks at the same pricer: the quote a bill from USDT names
            root.uow,
            root.ledger,
            lambda: pricer,
            lambda: quotes,
            lambda: mpesa,
            lambda token: f"{PUBLIC}/hooks/daraja/stk/{token}",
            bill_clock,
            root.ids,
        )
        payouts = Payouts(
            uow=root.uow, clock=root.clock, ids=root.ids, ledger=root.ledger, gateway=mpesa, urls=payout_urls(PUBLIC)
        )
        services = attrs.evolve(
            root,
            password_hasher=ready(fast_hasher()),
            wallet_bills=ready(bills),
            wallet_buys=ready(buys),
            payouts=ready(payouts),
        )
        if clock is not None:
            services = attrs.evolve(services, rate_limiter=ready(ProcessRateLimiter(clock)))
        yield WalletApi(make_app(services, **settings).test_client(), services, data_dir / "sms.jsonl", mpesa)
    finally:
        root.close()


def _deliver(api: WalletApi) -> None:
    delivered, api.mpesa.outbox[:] = list(api.mpesa.outbox), []
    for delivery in delivered:
        answer = api.client.post(delivery.url.removeprefix(PUBLIC), json=delivery.payload)
        assert answer.status_code == 200, answer.get_json()


def test_catalogue_and_validate_then_a_keyed_prepaid_bill_shows_its_token(api: WalletApi):
    """The catalogue lists KPLC prepaid at 888880; a meter typed with spaces validates; a keyed payment is made
    once however often it is retried; after M-Pesa's result the bill is completed with the biller's token."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(amina)
    api.fund(amina, "2000")
    headers = api.login("0712000001")
    catalogue = api.client.get("/v1/wallet/bills/catalogue", headers=headers).get_json()
    kplc = next(b for b in catalogue["billers"] if b["code"] == "KPLC_PREPAID")
    assert (kplc["paybill"], kplc["token"], kplc["verified"]) == ("888880", True, False)
    body = {"biller": "kplc_prepaid", "account": "0123 4567 890", "amount": "1000"}
    checked = api.client.post("/v1/wallet/bills/validate", json=body, headers=headers).get_json()
    assert (checked["paybill"], checked["account"]) == ("888880", "01234567890")
    keyed = {**headers, "Idempotency-Key": "bill-1"}
    first = api.client.post("/v1/wallet/bills", json=body, headers=keyed)
    again = api.client.post("/v1/wallet/bills", json=body, headers=keyed)
    assert first.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    bill = first.get_json()
    assert bill["state"] == "planned" and bill["token_note"].startswith("KPLC sends the token by SMS")
    assert api.services.wallets.balances(amina)["KES"].amount == 1000
    api.services.payouts.submit_payouts()
    _deliver(api)
    done = api.client.get(f"/v1/wallet/bills/{bill['id']}", headers=headers).get_json()
    assert done["state"] == "completed" and done["receipt"] and len(done["token"]) == 20
    listed = api.client.get("/v1/wallet/bills", headers=headers).get_json()["data"]
    assert [b["id"] for b in listed] == [bill["id"]]


def test_a_rejected_bill_returns_the_shillings_and_bad_input_is_a_problem(api: WalletApi):
    """The biller refuses the account: failed, the KES back; no key is a 400, a bad meter a 422, nothing moves."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(amina)
    api.fund(amina, "1000")
    headers = api.login("0712000001")
    body = {"biller": "KPLC_PREPAID", "account": REJECTED_ACCOUNT, "amount": "500"}
    assert api.client.post("/v1/wallet/bills", json=body, headers=headers).status_code == 400  # no key
    bad = api.client.post(
        "/v1/wallet/bills", json={**body, "account": "123"}, headers={**headers, "Idempotency-Key": "b0"}
    )
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    unknown = api.client.post("/v1/wallet/bills/validate", json={**body, "biller": "ZUKU"}, headers=headers)
    assert unknown.status_code == 422 and "unknown biller" in unknown.get_json()["detail"]
    bill = api.client.post("/v1/wallet/bills", json=body, headers={**headers, "Idempotency-Key": "b1"}).get_json()
    api.services.payouts.submit_payouts()
    _deliver(api)
    failed = api.client.get(f"/v1/wallet/bills/{bill['id']}", headers=headers).get_json()
    assert failed["state"] == "failed"
    assert api.services.wallets.balances(amina)["KES"].amount == 1000
    other = api.sign_up("0712000002")
    assert other
    assert api.client.get(f"/v1/wallet/bills/{bill['id']}", headers=api.login("0712000002")).status_code == 404


def _give_usdt(api: WalletApi, user_id: str, amount: str) -> None:
    inventory = Account("assets:inventory:USDT", AccountKind.ASSET, USDT, allow_negative=True)
    api.services.ledger.open_account(inventory)
    api.services.ledger.transfer(
        f"give:{user_id}", debit=inventory.code, credit=wallet_account(user_id, USDT), amount=Money.of(amount, USDT)
    )


def test_a_bill_from_usdt_needs_a_quote_the_payer_locked_and_is_paid_at_its_bid_once(api: WalletApi):
    """Without ``quote_id`` a bill from USDT is a 422 ``quote_required`` naming POST /v1/wallet/quotes, and a
    buy-side quote a 422: nothing moves. With a sale quote it is paid at that bid (the USDT the bid shows); the same
    quote again is a 409 ``quote_used``, someone else's a 404."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(amina)
    _give_usdt(api, amina, "20")
    headers = api.login("0712000001", stepped_up=True)  # KES 1,300: past the step-up allowance (review5 S4)
    body = {"biller": "DSTV", "account": "7012345678", "amount": "1300", "currency": "KES", "pay_with": "USDT"}
    missing = api.client.post("/v1/wallet/bills", json=body, headers={**headers, "Idempotency-Key": "u0"})
    assert missing.status_code == 422 and missing.content_type == "application/problem+json"
    problem = missing.get_json()
    assert problem["code"] == "quote_required" and "POST /v1/wallet/quotes" in problem["detail"], problem
    to_buy = api.client.post("/v1/wallet/quotes", json={"side": "buy"}, headers=headers).get_json()
    wrong = api.client.post(
        "/v1/wallet/bills", json={**body, "quote_id": to_buy["id"]}, headers={**headers, "Idempotency-Key": "u1"}
    )
    assert wrong.status_code == 422 and "locked to buy" in wrong.get_json()["detail"]
    assert api.services.wallets.balances(amina)["USDT"] == Money.of(20, USDT)
    assert api.client.get("/v1/wallet/bills", headers=headers).get_json()["data"] == []
    quote = api.client.post("/v1/wallet/quotes", json={"side": "sell"}, headers=headers).get_json()
    paid = api.client.post(
        "/v1/wallet/bills", json={**body, "quote_id": quote["id"]}, headers={**headers, "Idempotency-Key": "u2"}
    )
    assert paid.status_code == 201, paid.get_json()
    usdt = Money.rounded(Decimal(1300) / Decimal(quote["bid"]), USDT, ROUND_UP)
    assert paid.get_json()["paid_with"] == {"amount": str(usdt.amount), "asset": "USDT"}
    assert api.services.wallets.balances(amina)["USDT"] == Money.of(20, USDT) - usdt
    assert api.services.wallets.balances(amina)["KES"] < Money.of(1, KES)
    again = api.client.post(
        "/v1/wallet/bills", json={**body, "quote_id": quote["id"]}, headers={**headers, "Idempotency-Key": "u3"}
    )
    assert again.status_code == 409 and again.get_json()["code"] == "quote_used"
    api.sign_up("0712000002")
    baraka = api.login("0712000002")
    theirs = api.client.post("/v1/wallet/quotes", json={"side": "sell"}, headers=baraka).get_json()
    stolen = api.client.post(
        "/v1/wallet/bills", json={**body, "quote_id": theirs["id"]}, headers={**headers, "Idempotency-Key": "u4"}
    )
    assert stolen.status_code == 404


@pytest.fixture
def timed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[WalletApi, ManualClock]]:
    """The bills API with its prices, quotes and bills on a clock the test moves (SQLite)."""
    clock = ManualClock(datetime.now(UTC))
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": PUBLIC}
    migrated_sqlite(env)
    for api in _api(env, tmp_path, clock):
        yield api, clock


def test_a_bill_from_usdt_at_a_quote_past_its_window_is_a_quote_expired_problem_and_moves_nothing(timed):
    """The quote was locked, then its window (2 minutes) passed: 422 ``quote_expired`` asking for a new one; the
    USDT stays, no bill exists; a new quote pays it."""
    api, clock = timed
    amina = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(amina)
    _give_usdt(api, amina, "20")
    headers = api.login("0712000001")
    body = {"biller": "GOTV", "account": "1234567890", "amount": "300", "currency": "KES", "pay_with": "USDT"}
    quote = api.client.post("/v1/wallet/quotes", json={"side": "sell"}, headers=headers).get_json()
    clock.advance(minutes=3)
    late = api.client.post(
        "/v1/wallet/bills", json={**body, "quote_id": quote["id"]}, headers={**headers, "Idempotency-Key": "t1"}
    )
    assert late.status_code == 422 and late.get_json()["code"] == "quote_expired", late.get_json()
    assert api.services.wallets.balances(amina)["USDT"] == Money.of(20, USDT)
    assert api.client.get("/v1/wallet/bills", headers=headers).get_json()["data"] == []
    fresh = api.client.post("/v1/wallet/quotes", json={"side": "sell"}, headers=headers).get_json()
    paid = api.client.post(
        "/v1/wallet/bills", json={**body, "quote_id": fresh["id"]}, headers={**headers, "Idempotency-Key": "t2"}
    )
    assert paid.status_code == 201, paid.get_json()


def test_sends_and_bills_past_the_days_allowance_need_a_step_up_audited_when_missing(api: WalletApi):
    """Review5 S4: a stolen access token alone moves at most the day's allowance (KES 1,000) by P2P and bills. KES
    600 goes without a step-up; another KES 600 (1,200 today) is a 403 ``step_up_required``, audited
    ``access.refused``, nothing moved; a bill of KES 500 likewise; with a fresh ``X-Step-Up-Token`` both go."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.sign_up("0712000002")
    api.tier_1(amina)
    api.fund(amina, "5000")
    plain = api.login("0712000001")
    body = {"to": "0712000002", "amount": {"amount": "600", "asset": "KES"}}
    first = api.client.post("/v1/wallet/transfers", json=body, headers={**plain, "Idempotency-Key": "s4-1"})
    assert first.status_code == 201, first.get_json()
    refused = api.client.post("/v1/wallet/transfers", json=body, headers={**plain, "Idempotency-Key": "s4-2"})
    assert (refused.status_code, refused.get_json()["code"]) == (403, "step_up_required")
    bill = {"biller": "KPLC_PREPAID", "account": "01234567890", "amount": "500"}
    unpaid = api.client.post("/v1/wallet/bills", json=bill, headers={**plain, "Idempotency-Key": "s4-b1"})
    assert (unpaid.status_code, unpaid.get_json()["code"]) == (403, "step_up_required")
    assert api.services.wallets.balances(amina)["KES"].amount == 4400  # only the first send moved
    with api.services.uow() as uow:
        reasons = [dict(r.details) for r in uow.audit.records() if r.action == "access.refused"]
    assert [r["reason"] for r in reasons].count("step_up_required") == 2, reasons
    stepped = api.login("0712000001", stepped_up=True)
    # the refused key is not used up: the same key with a step-up sends
    sent = api.client.post("/v1/wallet/transfers", json=body, headers={**stepped, "Idempotency-Key": "s4-2"})
    assert sent.status_code == 201, sent.get_json()
    paid = api.client.post("/v1/wallet/bills", json=bill, headers={**stepped, "Idempotency-Key": "s4-b2"})
    assert paid.status_code == 201, paid.get_json()
    spec = api.client.get("/openapi.json").get_json()
    for path in ("/v1/wallet/transfers", "/v1/wallet/bills"):
        post = spec["paths"][path]["post"]
        assert "403" in post["responses"], path
        assert any(p["name"] == "X-Step-Up-Token" and not p["required"] for p in post["parameters"]), path


def test_concurrent_sends_each_under_the_allowance_pass_only_within_it_and_the_rest_is_audited(api: WalletApi):
    """Review5 S4 under concurrency: four KES 300 sends at once (threads released together), no step-up, against the
    KES 1,000 allowance. Each alone is under it, so the early read lets them all by; the send's own check, under the
    sender's wallet lock, lets three through (KES 900) and refuses the fourth 403 ``step_up_required``, audited
    ``access.refused`` like the early refusal, its key not used up."""
    from tests.support.sql_engines import race

    amina = api.sign_up("0712000001")["user"]["id"]
    api.sign_up("0712000002")
    api.tier_1(amina)
    api.fund(amina, "5000")
    plain = api.login("0712000001")
    body = {"to": "0712000002", "amount": {"amount": "300", "asset": "KES"}}

    def send(i: int) -> tuple[int, str | None]:
        response = api.client.post("/v1/wallet/transfers", json=body, headers={**plain, "Idempotency-Key": f"c{i}"})
        return response.status_code, response.get_json().get("code")

    outcomes = race(4, send)
    assert sorted(outcomes, key=str) == sorted([(201, None)] * 3 + [(403, "step_up_required")], key=str), outcomes
    assert api.services.wallets.balances(amina)["KES"].amount == 4100
    with api.services.uow() as uow:
        reasons = [dict(r.details)["reason"] for r in uow.audit.records() if r.action == "access.refused"]
    assert reasons == ["step_up_required"], reasons
    refused = next(i for i, (status, _) in enumerate(outcomes) if status == 403)
    stepped = api.login("0712000001", stepped_up=True)
    again = api.client.post("/v1/wallet/transfers", json=body, headers={**stepped, "Idempotency-Key": f"c{refused}"})
    assert again.status_code == 201, again.get_json()
