"""Outside review of #12/#18: black-box findings, each pinned by the request that exposed it."""

from __future__ import annotations

import pytest

from tests.integration.http_payments.payments_support import idem


@pytest.mark.parametrize("number", ["5000.5", "1e3", "100e999999", "-0.0"])
def test_a_json_number_with_a_fraction_or_exponent_under_an_idempotency_key_is_a_422(client, shop, number):
    """A JSON number (not a string) where an amount or metadata value goes is refused with a 422, never a 500."""
    for raw in (
        '{"amount": ' + number + ', "currency": "KES"}',
        '{"amount": "100", "currency": "KES", "metadata": {"n": ' + number + "}}",
    ):
        response = shop.client.post(
            "/v1/invoices", data=raw, content_type="application/json", headers=idem(shop.headers)
        )
        assert response.status_code == 422, (raw, response.json)
        assert response.content_type == "application/problem+json"
    assert shop.client.get("/v1/invoices", headers=shop.headers).json["data"] == []
