"""Outside review 4, R8: the server offers only rails it can invoice now, and its own gap is a 503, not the client's.

A deployment watching Bitcoin on Esplora without ``CRYPTOPAY_BITCOIN_XPUB`` (and Ethereum with its xpub): built from
the production composition on PostgreSQL, ``GET /v1/rails`` lists Ethereum's rails and not ``btc-bitcoin``, and a
store may not accept it; an invoice met with a rail whose network has no address deriver is a 503 ``unavailable``
naming the setting (not a 422 ``invalid_input`` blaming the caller).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core.errors import Unavailable
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.integration.http.http_support import database_env, make_app
from tests.integration.http.test_http_wallet_deposits import NODE, XPUB

PASSWORD = "a long passphrase"


@pytest.fixture(params=["postgres"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_EVM_XPUB": XPUB,
        "CRYPTOPAY_ETHEREUM_RPC_URL": NODE,
        "CRYPTOPAY_ESPLORA_URL": "http://esplora.example.com",  # never called: no xpub, so no invoice on it
    }
    with database_env(request, env, "cryptopay_http_rails") as settings:
        built = build(Settings.from_env(settings))
        try:
            yield built
        finally:
            built.close()


def test_only_rails_with_an_address_deriver_are_offered(services: Services) -> None:
    offered = sorted(services.rails or {})
    assert offered and all(key.endswith("-ethereum") for key in offered), offered
    client = make_app(services).test_client()
    email = f"rails-{uuid.uuid4().hex[:8]}@example.co.ke"
    assert (
        client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "role": "personal"}).status_code
        == 202
    )
    token = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json["access_token"]  # type: ignore[index]
    listed = client.get("/v1/rails", headers={"authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.json
    assert sorted(r["key"] for r in listed.json["data"]) == offered  # type: ignore[index]
    assert "btc-bitcoin" not in offered


def test_an_invoice_on_a_rail_without_a_deriver_is_the_servers_503_naming_the_setting() -> None:
    """A store saved before (it accepts ``usdt-tron``) on a server that no longer derives Tron addresses."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.WEEKLY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile)
    invoicing = Invoicing(
        uow=stack.uow, clock=stack.clock, ids=stack.ids, ledger=stack.ledger, pricer=stack.pricer, derivers={}
    )
    with pytest.raises(Unavailable) as refused:
        invoicing.create_invoice("m1", Money.of("500", KES))
    assert refused.value.http_status == 503 and refused.value.code == "unavailable"
    assert "CRYPTOPAY_TRON_XPUB" in refused.value.message and "usdt-tron" in refused.value.message
    with stack.uow() as uow:
        assert uow.invoices.list_for_merchant("m1", before=None, limit=10) == []
