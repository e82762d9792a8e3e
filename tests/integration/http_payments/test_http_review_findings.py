"""Outside review of #12/#18: black-box findings, each pinned by the request that exposed it."""

from __future__ import annotations

import json

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


HUGE_NUMBERS = ["1e999999", "1" * 5000, "NaN", "-Infinity"]


@pytest.mark.parametrize("number", HUGE_NUMBERS)
def test_a_daraja_callback_with_a_huge_or_non_finite_number_is_a_422(client, number):
    """A huge integer, a huge exponent or a JSON constant in a Daraja body is a quick 4xx problem (the token is
    unknown, or the payload unreadable), never a 500 nor minutes of CPU turning 1E+999999 into an int."""
    result = {"ResultType": 0, "ResultDesc": "ok", "OriginatorConversationID": "x", "ConversationID": "y"}
    text = json.dumps({"Result": {**result, "ResultCode": "@"}}).replace('"@"', number)
    response = client.post("/hooks/daraja/payouts/result/tok", data=text, content_type="application/json")
    assert response.status_code in (403, 422), response.json
    assert response.content_type == "application/problem+json"
