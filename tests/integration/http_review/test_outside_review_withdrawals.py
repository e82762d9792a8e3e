"""Outside review: what a customer reads about a withdrawal that failed or stuck (root SQL services on SQLite).

A withdrawal's ``failure`` is written for operators: the hot wallet's balance when it could not pay, the sanctions
list entries an address matched, an operator's login and note when ``cryptopay withdrawals resolve --fail`` returned
the coins. The customer's own reading (``GET /v1/wallet/withdrawals[/{id}]``) must say what happened without any of
it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, ready
from cryptopay.core.errors import InsufficientFunds
from cryptopay.core.ports.chains import SentTransaction, TxState, WithdrawalRequest
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.core.testing.payments_stack import FakeChainSender
from cryptopay.core.wallets.withdrawals import Withdrawals

from tests.integration.http.http_support import fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.http.test_http_wallet_withdrawals import ADDRESS, _ready, polygon_withdrawals
from tests.support.sql_backends import migrated_sqlite

BODY = {"network": "polygon", "address": ADDRESS, "asset": "USDT", "amount": "100"}


class EmptyHotWallet(FakeChainSender):
    """A hot wallet that cannot pay: it says how much it holds, as the EVM sender does."""

    def send(self, request: WithdrawalRequest) -> SentTransaction:
        raise InsufficientFunds(f"the polygon hot wallet holds 3.141592 USDT, needs {request.amount}")


@attrs.define
class Rig:
    api: WalletApi
    withdrawals: Withdrawals
    sender: FakeChainSender


def _rig(tmp_path: Path, sender: FakeChainSender) -> Iterator[Rig]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    root = build(RootSettings.from_env(env))
    try:
        withdrawals = polygon_withdrawals(root, sender, cool_off=timedelta(0))
        services = attrs.evolve(root, password_hasher=ready(fast_hasher()), withdrawals=ready(withdrawals))
        api = WalletApi(make_app(services).test_client(), services, tmp_path / "sms.jsonl", FakeMobileMoney())
        yield Rig(api, withdrawals, sender)
    finally:
        root.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(tmp_path, FakeChainSender("polygon"))


@pytest.fixture
def broke(tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(tmp_path, EmptyHotWallet("polygon"))


def _withdraw(rig: Rig) -> tuple[str, dict[str, str]]:
    _, headers = _ready(rig.api)
    made = rig.api.client.post("/v1/wallet/withdrawals", json=BODY, headers={**headers, "Idempotency-Key": "w-1"})
    assert made.status_code == 201, made.get_json()
    return made.get_json()["id"], headers


def _customer_reads(rig: Rig, withdrawal_id: str, headers: dict[str, str]) -> list[str]:
    one = rig.api.client.get(f"/v1/wallet/withdrawals/{withdrawal_id}", headers=headers)
    page = rig.api.client.get("/v1/wallet/withdrawals", headers=headers)
    assert one.status_code == page.status_code == 200
    return [one.get_data(as_text=True), page.get_data(as_text=True)]


def test_an_operator_s_login_and_note_never_reach_the_customer(rig: Rig):
    """``resolve --fail --reason`` returns the coins; the customer reads that it failed, not who or why inside."""
    withdrawal_id, headers = _withdraw(rig)
    rig.withdrawals.send_due()
    rig.sender.finish(withdrawal_id, TxState.DROPPED)
    rig.withdrawals.check_sent()
    rig.withdrawals.resolve(withdrawal_id, actor="ops:jdoe", fail=True, reason="nonce 41 replaced, ticket OPS-77")
    for text in _customer_reads(rig, withdrawal_id, headers):
        assert '"state":"failed"' in text
        assert "jdoe" not in text and "OPS-77" not in text and "nonce" not in text, text


def test_the_hot_wallet_s_balance_never_reaches_the_customer(broke: Rig):
    """A hot wallet that cannot pay fails the withdrawal (the coins come back); its balance stays ours."""
    withdrawal_id, headers = _withdraw(broke)
    broke.withdrawals.send_due()
    for text in _customer_reads(broke, withdrawal_id, headers):
        assert '"state":"failed"' in text
        assert "3.141592" not in text and "hot wallet" not in text, text


def test_a_withdrawal_to_the_zero_address_or_the_token_contract_is_refused(rig: Rig):
    """Both are well-formed polygon addresses where USDT is lost for good: a 422 naming why, nothing sent."""
    _, headers = _ready(rig.api)
    contract = next(r for r in rig.withdrawals.rails().values() if r.network.name == "polygon").token.contract
    for address, why in (("0x" + "0" * 40, "zero address"), (contract, "USDT contract on polygon")):
        body = {**BODY, "address": address}
        answer = rig.api.client.post("/v1/wallet/withdrawals", json=body, headers={**headers, "Idempotency-Key": why})
        assert answer.status_code == 422 and why in answer.get_json()["detail"], answer.get_json()
    assert rig.api.client.get("/v1/wallet/withdrawals", headers=headers).get_json()["data"] == []
