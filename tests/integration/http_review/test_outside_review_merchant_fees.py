"""Outside review 4, R7: a merchant does not escape the platform's fee by adding a rail of another asset.

The admin sets 1.5 % on a USDT store; the merchant (who may not set the fee) adds USDC: the store gets a USDC version
at 1.5 %, and a USDC payment pays it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.core.money import USDC, Money, Rounding
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.http_payments.payments_support import RAILS, WebhookRig, key_headers
from tests.support.services import in_memory_services, with_stack

USDC_RAILS = {**RAILS, "usdc-ethereum": rail_for("ethereum", "USDC", confirmations=3)}


@pytest.fixture
def services(stack: PaymentsStack, hooks: WebhookRig) -> Services:
    """The payment resources' app, its deployment offering USDC on Ethereum too (priced like USDT)."""
    stack.rates.set("USDC/KES", "130")
    stack.rates.set("USDC/USD", "1")
    services = in_memory_services(clock=stack.clock, ids=stack.ids, hasher=fast_hasher())
    return with_stack(services, stack, rails=USDC_RAILS, webhooks_uow=hooks.uow, queue=hooks.queue)


def test_a_rail_the_merchant_adds_is_charged_the_fee_the_admin_set(client, auth, stack, shop):
    shop.store(["usdt-ethereum"])
    set_by_admin = shop.set_fee("1.5")
    assert [(f["asset"], f["percent"]) for f in set_by_admin["merchant_fees"]] == [("USDT", "1.5")]

    widened = shop.store(["usdt-ethereum", "usdc-ethereum"])  # the merchant's own login: no fee in the body
    fees = sorted((f["asset"], f["version"], f["percent"]) for f in widened["merchant_fees"])
    assert fees == [("USDC", 1, "1.5"), ("USDT", 1, "1.5")]
    assert widened == client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json

    secret = auth.api_key(shop.headers, shop.id, ["invoices:write", "invoices:read"])
    body = {"amount": "1300", "currency": "KES", "rails": ["usdc-ethereum"]}
    created = client.post("/v1/invoices", json=body, headers=key_headers(secret))
    assert created.status_code == 201, created.json
    stack.pay(created.json["id"])
    stack.confirm(3)
    with stack.uow() as uow:
        (credit,) = uow.payment_credits.for_invoice(created.json["id"])
    assert credit.received.asset == USDC
    owed = credit.received.times(Decimal("0.015"), Rounding.UP)
    assert credit.fee == owed and owed.is_positive()
    assert stack.balance("revenue:merchant_fee:USDC") == owed
    assert stack.balance("revenue:merchant_fee:USDC") != Money.zero(USDC)


def test_an_admin_fee_reaches_every_asset_the_merchant_was_charged_in(client, auth, shop):
    """A rail dropped and added again is charged the admin's latest fee, not the one it had before."""
    shop.store(["usdt-ethereum", "usdc-ethereum"])
    shop.set_fee("1")
    shop.store(["usdt-ethereum"])
    shop.set_fee("2")
    again = shop.store(["usdt-ethereum", "usdc-ethereum"])
    latest = {f["asset"]: (f["version"], f["percent"]) for f in again["merchant_fees"]}
    assert latest == {"USDC": (2, "2"), "USDT": (2, "2")}
