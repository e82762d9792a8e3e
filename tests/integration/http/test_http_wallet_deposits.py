"""Crypto deposits over REST on the root's real SQL services (SQLite and PostgreSQL): addresses derived from the
deployment's EVM xpub, a deposit seen on a (fake) Polygon, credited after its confirmations, listed and in the
history; another user's deposit is a 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, ready
from cryptopay.adapters.bootstrap.chains import deriver_map
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.pricing import Pricer
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.core.testing.payments_stack import FakeChain
from cryptopay.core.wallets.deposit import HoldReason, WalletSpeed
from cryptopay.core.wallets.deposits import Deposits

from tests.integration.http.http_support import database_env, fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi

XPUB = account_xpub("abandon " * 11 + "about")
NODE = "http://node.example.com:8545"  # never called: the chain below is the fake one


@attrs.define
class DepositApi:
    api: WalletApi
    chain: FakeChain


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DepositApi]:
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_EVM_XPUB": XPUB,
        "CRYPTOPAY_ETHEREUM_RPC_URL": NODE,
        "CRYPTOPAY_POLYGON_RPC_URL": NODE,
        "CRYPTOPAY_WALLET_CONFIRMATIONS": "polygon=3",
    }
    with database_env(request, env, "cryptopay_http_deposits") as settings:
        yield from _api(settings, tmp_path)


def _api(env: dict[str, str], data_dir: Path) -> Iterator[DepositApi]:
    settings = RootSettings.from_env(env)
    root = build(settings)
    try:
        rates = FixedRateSource("market", root.clock, {"USDT/KES": "130", "USDT/USD": "1"})
        pricer = Pricer([rates], clock=root.clock, ids=root.ids, quotes=InMemoryQuoteRepository())
        deposits = Deposits(
            uow=root.uow,
            ledger=root.ledger,
            clock=root.clock,
            ids=root.ids,
            derivers=deriver_map(settings),
            rails=list((root.rails or {}).values()),
            speed=WalletSpeed.parse(env["CRYPTOPAY_WALLET_CONFIRMATIONS"]),
            screening=lambda: root.screening,
            monitoring=lambda: root.monitoring,
            quoter=lambda: pricer,
        )
        services = attrs.evolve(root, password_hasher=ready(fast_hasher()), wallet_deposits=ready(deposits))
        client = make_app(services).test_client()
        chain = FakeChain("polygon", root.clock)
        yield DepositApi(WalletApi(client, services, data_dir / "sms.jsonl", FakeMobileMoney()), chain)
    finally:
        root.close()


def _pay(api: DepositApi, address: str, amount: str) -> None:
    transfer = ObservedTransfer("polygon", "0x" + "ab" * 32, 0, address, Money.of(amount, "USDT"), None, None, None)
    mined = api.chain.mine([transfer])
    api.api.services.wallet_deposits.record("polygon", mined)


def _confirm(api: DepositApi) -> None:
    api.api.services.wallet_deposits.confirm("polygon", api.chain, api.chain)


def test_addresses_per_network_then_a_deposit_credited_after_its_confirmations(api: DepositApi):
    """Two EVM networks, one address each (EIP-55, the same on every ask); a Polygon deposit is seen, then credited
    at its third confirmation: listed, in the balance and in the history."""
    client, wallets = api.api.client, api.api
    user = wallets.sign_up("0712000001")["user"]["id"]
    headers = wallets.login("0712000001")
    listed = client.get("/v1/wallet/deposit-addresses", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    found = listed.get_json()
    assert [a["network"] for a in found] == ["ethereum", "polygon"]
    polygon = found[1]
    assert polygon["address"].startswith("0x") and polygon["address"] != polygon["address"].lower()
    assert (polygon["assets"], polygon["requirement"]) == (["USDT", "USDC"], "3 confirmations")  # USDC as USDT
    assert polygon["minimums"] == [{"amount": "1.000000", "asset": "USDT"}, {"amount": "1.000000", "asset": "USDC"}]
    one = client.get("/v1/wallet/deposit-addresses/polygon", headers=headers).get_json()
    assert one == polygon and client.get("/v1/wallet/deposit-addresses", headers=headers).get_json() == found
    _pay(api, polygon["address"], "12.5")
    _confirm(api)
    page = client.get("/v1/wallet/deposits", headers=headers).get_json()
    assert [(d["state"], d["confirmations"], d["amount"]["amount"]) for d in page["data"]] == [("seen", 1, "12.500000")]
    api.chain.mine()
    api.chain.mine()
    _confirm(api)
    deposit = client.get(f"/v1/wallet/deposits/{page['data'][0]['id']}", headers=headers).get_json()
    assert (deposit["state"], deposit["requirement"]) == ("credited", "3 confirmations")
    balances = client.get("/v1/wallet/balances", headers=headers).get_json()
    assert {"amount": "12.500000", "asset": "USDT"} in balances
    history = client.get("/v1/wallet/history?kind=deposit", headers=headers).get_json()
    assert [h["amount"]["amount"] for h in history] == ["12.500000"]
    assert user


def test_unknown_networks_other_users_and_anonymous_callers_are_refused(api: DepositApi):
    """A network the deployment does not run is a 404 problem; another user's deposit a 404; no login a 401."""
    client, wallets = api.api.client, api.api
    wallets.sign_up("0712000001")
    wallets.sign_up("0712000002")
    first, second = wallets.login("0712000001"), wallets.login("0712000002")
    address = client.get("/v1/wallet/deposit-addresses/polygon", headers=first).get_json()["address"]
    missing = client.get("/v1/wallet/deposit-addresses/tron", headers=first)
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"
    _pay(api, address, "5")
    deposit_id = client.get("/v1/wallet/deposits", headers=first).get_json()["data"][0]["id"]
    assert client.get(f"/v1/wallet/deposits/{deposit_id}", headers=second).status_code == 404
    assert client.get("/v1/wallet/deposits", headers=second).get_json()["data"] == []
    assert client.get("/v1/wallet/deposit-addresses").status_code == 401


def test_a_deposit_beyond_what_tier_0_may_receive_is_held_until_kyc_is_approved(api: DepositApi):
    """Review H14: 100 USDT (KES 13,000) to a phone-only wallet (tier 0 receives KES 5,000 at a time) is shown
    ``held`` with ``hold_reason`` ``tier_limit``, not in the balance; once the holder's national ID is approved the
    next confirmation step credits it (audited ``wallet.deposit_released``) and counts it as received."""
    client, wallets = api.api.client, api.api
    user = wallets.sign_up("0712000001")["user"]["id"]
    headers = wallets.login("0712000001")
    address = client.get("/v1/wallet/deposit-addresses/polygon", headers=headers).get_json()["address"]
    _pay(api, address, "100")
    api.chain.mine()
    api.chain.mine()
    _confirm(api)
    deposit = client.get("/v1/wallet/deposits", headers=headers).get_json()["data"][0]
    assert (deposit["state"], deposit["hold_reason"]) == ("held", "tier_limit"), deposit
    assert {"amount": "0.000000", "asset": "USDT"} in client.get("/v1/wallet/balances", headers=headers).get_json()
    _confirm(api)  # checked again at every step: still beyond the tier, nothing new is recorded
    with wallets.services.uow() as uow:
        held = [r for r in uow.audit.records() if r.action == "wallet.deposit_held"]
    assert len(held) == 1
    wallets.tier_1(user)
    _confirm(api)
    deposit = client.get(f"/v1/wallet/deposits/{deposit['id']}", headers=headers).get_json()
    assert (deposit["state"], deposit["hold_reason"]) == ("credited", None), deposit
    assert {"amount": "100.000000", "asset": "USDT"} in client.get("/v1/wallet/balances", headers=headers).get_json()
    with wallets.services.uow() as uow:
        released = [r for r in uow.audit.records() if r.action == "wallet.deposit_released"]
        totals = uow.wallet_usage.totals(user, day_start=deposit_time(api), month_start=deposit_time(api))
    assert len(released) == 1 and totals["receive"][1].amount == 13000


def deposit_time(api: DepositApi):
    return api.api.services.clock.now().replace(year=2000)


def test_a_deposit_held_for_a_compliance_freeze_is_shown_to_its_holder_as_under_review(api: DepositApi):
    """review7 F8: a deposit to a wallet compliance froze is held ``compliance`` (officers see why); its holder read
    ``hold_reason: compliance``, while their other movements say only "unavailable, contact support". The holder now
    reads ``review`` (its data export too); the stored reason and the officers' views are unchanged."""
    client, wallets = api.api.client, api.api
    user = wallets.sign_up("0712000001")["user"]["id"]
    wallets.tier_1(user)
    headers = wallets.login("0712000001")
    api.api.services.kyc_review.freeze("usr_officer", user, PartyKind.PERSONAL, "a court order about this person")
    address = client.get("/v1/wallet/deposit-addresses/polygon", headers=headers).get_json()["address"]
    _pay(api, address, "10")
    api.chain.mine()
    api.chain.mine()
    _confirm(api)
    deposit = client.get("/v1/wallet/deposits", headers=headers).get_json()["data"][0]
    assert (deposit["state"], deposit["hold_reason"]) == ("held", "review"), deposit
    with wallets.services.uow() as uow:
        stored = uow.wallet_deposits.get(deposit["id"])
    assert stored is not None and stored.hold_reason is HoldReason.COMPLIANCE


def test_two_officers_release_a_deposit_held_for_a_sanctioned_sender_over_the_api(api: DepositApi):
    """Review8 R7: a deposit from a listed address is held; one officer proposes its release (a step-up; nothing
    moves), the proposer's approval is a 409 ``same_officer``, a second officer's (a step-up) credits it once and
    closes its alert with no action. A customer is refused (403); every call needs a note where it takes one."""
    from cryptopay.core.compliance.cases import AlertStatus
    from cryptopay.core.compliance.screening import ListEntry

    from tests.integration.http.http_support import AuthActions

    client, wallets, services = api.api.client, api.api, api.api.services
    listed = "0xbad0000000000000000000000000000000000bad"
    entry = ListEntry(ref="ofac:99001", kind="entity", names=("Listed Exchange",), addresses=(("polygon", listed),))
    services.screening.import_list("ofac_sdn", "v-1", [entry], actor="operator:test")
    wallets.sign_up("0712000001")
    headers = wallets.login("0712000001")
    address = client.get("/v1/wallet/deposit-addresses/polygon", headers=headers).get_json()["address"]
    amount = Money.of("20", "USDT")
    transfer = ObservedTransfer("polygon", "0x" + "cd" * 32, 0, address, amount, None, None, None, listed)
    services.wallet_deposits.record("polygon", api.chain.mine([transfer]))
    api.chain.mine()
    api.chain.mine()
    _confirm(api)
    deposit = client.get("/v1/wallet/deposits", headers=headers).get_json()["data"][0]
    assert (deposit["state"], deposit["hold_reason"]) == ("held", "review"), deposit

    auth = AuthActions(client.application, client)
    officer, codes = auth.staff("compliance")
    queue = client.get("/v1/admin/compliance/held-deposits", headers=officer)
    assert queue.status_code == 200 and [d["id"] for d in queue.get_json()["data"]] == [deposit["id"]]
    assert client.get("/v1/admin/compliance/held-deposits", headers=headers).status_code == 403
    path = f"/v1/admin/compliance/held-deposits/{deposit['id']}"
    assert client.get(path, headers=headers).status_code == 403
    shown = client.get(path, headers=officer)
    assert shown.status_code == 200 and shown.get_json()["hold_reason"] == "sanctioned_sender", shown.get_json()
    assert len(shown.get_json()["alerts"]) == 1
    assert client.post(f"{path}/release", json={"note": "x"}, headers=officer).status_code == 403  # no step-up
    stepped = auth.stepped_up(officer, code=codes[0])
    assert client.post(f"{path}/release", json={"note": " "}, headers=stepped).status_code == 422
    proposed = client.post(f"{path}/release", json={"note": "the list named the wrong address"}, headers=stepped)
    assert proposed.status_code == 200 and proposed.get_json()["state"] == "held", proposed.get_json()
    assert proposed.get_json()["proposal_note"] == "the list named the wrong address"
    same = client.post(f"{path}/approve", headers=auth.stepped_up(officer, code=codes[1]))
    assert (same.status_code, same.get_json()["code"]) == (409, "same_officer")
    second, second_codes = auth.staff("compliance")
    assert client.post(f"{path}/approve", headers=second).status_code == 403  # money moves: a step-up
    assert {"amount": "0.000000", "asset": "USDT"} in client.get("/v1/wallet/balances", headers=headers).get_json()
    done = client.post(f"{path}/approve", headers=auth.stepped_up(second, code=second_codes[0]))
    assert done.status_code == 200 and done.get_json()["state"] == "credited", done.get_json()
    assert {"amount": "20.000000", "asset": "USDT"} in client.get("/v1/wallet/balances", headers=headers).get_json()
    again = client.post(f"{path}/approve", headers=auth.stepped_up(second, code=second_codes[1]))
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert [a.status for a in services.monitoring.alerts()] == [AlertStatus.IN_CASE]
    assert client.get("/v1/admin/compliance/held-deposits", headers=officer).get_json()["data"] == []
    with services.uow() as uow:
        released = [r for r in uow.audit.records() if r.action == "wallet.deposit_released"]
    assert len(released) == 1 and dict(released[0].details)["proposed_by"] != released[0].actor.removeprefix("user:")
