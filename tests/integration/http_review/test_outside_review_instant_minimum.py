"""Outside review 4, R13: an instant settlement's minimum has a floor (the default minimum payout, KES 100), so every
small payment is not its own B2C payout at the platform's cost; a profile saved before the floor settles at it."""

from __future__ import annotations

import pytest
from cryptopay.core.money import KES, Money
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.settlement.policy import DEFAULT_MINIMUM_PAYOUT, SettlementPolicy


def _profile(schedule: str, minimum: str) -> dict:
    return {
        "schedule": schedule,
        "method": "mpesa_b2c",
        "destination": "0712345678",
        "minimum": {"amount": minimum, "asset": "KES"},
    }


@pytest.mark.parametrize("minimum", ["0", "99.99"])
def test_an_instant_settlement_below_the_floor_is_refused_and_nothing_is_made(client, auth, minimum):
    headers = auth.user("merchant")
    body = {"business_name": "Duka Ltd", "settlement": _profile("instant", minimum)}
    refused = client.post("/v1/merchants", json=body, headers=headers)
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    assert "settlement.minimum" in str(refused.json) and "100" in refused.json["detail"]
    assert client.get("/v1/merchants/me", headers=headers).status_code in (403, 404)


def test_the_floor_binds_instant_settlement_only(client, auth):
    for schedule, minimum in (("instant", "100"), ("daily", "0")):
        body = {"business_name": "Duka Ltd", "settlement": _profile(schedule, minimum)}
        made = client.post("/v1/merchants", json=body, headers=auth.user("merchant"))
        assert made.status_code == 201, made.json


def test_an_instant_profile_saved_below_the_floor_settles_at_it():
    saved = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678", Money.zero(KES))
    assert SettlementPolicy.from_profile(saved).minimum == DEFAULT_MINIMUM_PAYOUT == Money.of(100, KES)
    daily = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678", Money.zero(KES))
    assert SettlementPolicy.from_profile(daily).minimum == Money.zero(KES)
