"""The treasury for admins over HTTP on the composition root (SQLite): status, idempotent top-ups and conversions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core import flows
from cryptopay.core.errors import NotFound
from cryptopay.core.ledger import EntryRequest, Posting
from cryptopay.core.ledger.service import trading_account
from cryptopay.core.money import KES, USDT, Money

from tests.integration.http.http_support import AuthActions, make_app


@pytest.fixture
def rig(tmp_path) -> Iterator[tuple[Services, object, AuthActions]]:
    services = build(Settings.for_data_dir(tmp_path))
    app = make_app(services)
    client = app.test_client()
    yield services, client, AuthActions(app, client)
    services.close()


def _idem(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def test_an_admin_records_a_top_up_once_and_reads_the_float(rig):
    """201 with the entry; the same key replays it; the reference with other figures is a 409; the status shows it."""
    services, client, auth = rig
    admin = auth.user("admin")
    body = {"amount": "250000", "reference": "bank-0042", "note": "Monday's top-up"}
    first = client.post("/v1/admin/treasury/topups", json=body, headers=_idem(admin, "t-1"))
    assert first.status_code == 201, first.json
    assert first.json["amount"] == "250000.00" and first.json["released"] == []
    replay = client.post("/v1/admin/treasury/topups", json=body, headers=_idem(admin, "t-1"))
    assert replay.status_code == 201 and replay.json == first.json
    again = client.post("/v1/admin/treasury/topups", json={**body, "amount": "1"}, headers=_idem(admin, "t-2"))
    assert again.status_code == 409
    status = client.get("/v1/admin/treasury", headers=admin)
    assert status.status_code == 200 and status.json["mpesa_float"]["books"] == "250000.00"
    assert status.json["mpesa_float"]["known"] is None and status.json["mpesa_float"]["payouts_held"] == 0
    assert services.ledger.balance(flows.FLOAT).posted == Money.of("250000", KES)


def test_an_admin_records_a_conversion_with_its_gain(rig):
    """1,000 USDT bought at 129 sold at 130 and 131: the realised gain is in the answer and in the books."""
    services, client, auth = rig
    ledger = services.ledger
    flows.open_platform_accounts(ledger, "m1", "tron", USDT)
    usdt, kes = Money.of(1000, USDT), Money.of(129000, KES)
    ledger.post(
        EntryRequest(
            "seed",
            [
                Posting.debit(flows.custody("tron", USDT), usdt),
                Posting.credit(trading_account("USDT"), usdt),
                Posting.debit(trading_account("KES"), kes),
                Posting.credit(flows.merchant_liability("m1", KES), kes),
            ],
        )
    )
    body = {
        "reference": "otc-7",
        "network": "tron",
        "venue": "OTC desk",
        "fills": [{"amount": "600", "price": "130"}, {"amount": "400", "price": "131"}],
        "fee": "250",
    }
    done = client.post("/v1/admin/treasury/conversions", json=body, headers=_idem(auth.user("admin"), "c-1"))
    assert done.status_code == 201, done.json
    assert (done.json["proceeds"], done.json["cost"], done.json["gain"]) == ("130400.00", "129000.00", "1400.00")
    assert ledger.balance(flows.BANK).posted == Money.of("130150", KES)


def test_the_treasury_is_for_admins_and_bad_records_change_nothing(rig):
    """A merchant gets a 403; a negative top-up and an unknown destination are 422 and book nothing."""
    services, client, auth = rig
    merchant = auth.user("merchant")
    assert client.get("/v1/admin/treasury", headers=merchant).status_code == 403
    admin = auth.user("admin")
    bad = client.post("/v1/admin/treasury/topups", json={"amount": "-5", "reference": "x"}, headers=_idem(admin, "b-1"))
    assert bad.status_code == 422
    spaced = client.post(
        "/v1/admin/treasury/topups", json={"amount": "5", "reference": "a b"}, headers=_idem(admin, "b-2")
    )
    assert spaced.status_code == 422
    fills = [{"amount": "1", "price": "130"}]
    body = {"reference": "c", "network": "tron", "venue": "v", "fills": fills, "into": "wallet"}
    assert client.post("/v1/admin/treasury/conversions", json=body, headers=_idem(admin, "b-3")).status_code == 422
    assert all(total == 0 for total in services.ledger.trial_balance().values())
    with pytest.raises(NotFound):  # no float account was ever opened
        services.ledger.balance(flows.FLOAT)
