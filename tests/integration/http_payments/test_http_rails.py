"""Issue 18 #11 and GET /v1/rails: a rail nothing can price is refused when the store is saved; never a 404."""

from __future__ import annotations

import pytest
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.http_payments.payments_support import RAILS, WebhookRig
from tests.support.services import in_memory_services, with_stack


@pytest.fixture
def services(stack: PaymentsStack, hooks: WebhookRig) -> Services:
    """The payments stack offering BTC on bitcoin too, although its only rate source quotes no BTC pair."""
    services = in_memory_services(clock=stack.clock, ids=stack.ids, hasher=fast_hasher())
    rails = {**RAILS, "btc-bitcoin": rail_for("bitcoin", "BTC")}
    return with_stack(services, stack, rails=rails, webhooks_uow=hooks.uow, queue=hooks.queue)


def test_a_rail_nothing_can_price_is_refused_when_the_store_is_saved(client, auth):
    """PUT store with btc-bitcoin is a 422 naming the unpriceable pair, and stores nothing."""
    headers, merchant_id = auth.merchant()
    response = client.put(
        f"/v1/merchants/{merchant_id}/store", json={"rails": ["usdt-tron", "btc-bitcoin"]}, headers=headers
    )
    assert response.status_code == 422, response.json
    assert "BTC/KES" in response.json["detail"]
    assert client.get(f"/v1/merchants/{merchant_id}/store", headers=headers).status_code == 404


def test_an_fx_quote_for_an_unquoted_pair_is_a_422_not_a_404(client, auth):
    """A pair no source quotes is a refusal: the request named nothing missing."""
    headers, _ = auth.merchant()
    response = client.get("/v1/fx/quote?pair=BTC/KES", headers=headers)
    assert response.status_code == 422 and response.json["code"] == "unsupported_pair"


def test_the_rails_listing_shows_what_the_server_offers(client, auth):
    """GET /v1/rails lists every rail of the deployment with its asset, network and decimals."""
    headers, _ = auth.merchant()
    listed = client.get("/v1/rails", headers=headers)
    assert listed.status_code == 200
    keys = [r["key"] for r in listed.json["data"]]
    assert keys == ["btc-bitcoin", "usdt-ethereum", "usdt-tron"]
    tron = listed.json["data"][2]
    assert (tron["asset"], tron["network"], tron["decimals"]) == ("USDT", "tron", 6)
