"""The portal's withdraw page ``/app/withdraw`` on the root's real SQL services (SQLite): the address checked, our
fee and the total shown before confirming, the step-up with the password, a double press withdrawing once, refusals
(a limit by its name, a sanctioned address, one cryptopay controls, a wrong password) shown on the form with what was typed; in Swahili too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.core.money import Money

from tests.integration.http.http_support import PASSWORD
from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.http.test_http_wallet_withdrawals import HOT, _api, _usdt
from tests.integration.web.test_portal_pages import _hidden, _sign_up
from tests.support.sql_backends import migrated_sqlite
from tests.support.withdraw_stack import SANCTIONED

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    yield from _api(env, tmp_path)


def _ready(api: WalletApi, *, tier: bool = True):
    client = _sign_up(api)
    with api.services.uow() as uow:
        user = uow.users.by_phone("254712000001")
    if tier:
        api.tier_1(user.id)
    _usdt(api, user.id, "300")
    return client, user.id


def _check(client, **fields: str):
    form = client.get("/app/withdraw").get_data(as_text=True)
    data = {**_hidden(form), "network": "polygon", "asset": "USDT", "address": ADDRESS, "amount": "100", **fields}
    return client.post("/app/withdraw/check", data=data)


def test_check_shows_fee_total_and_cool_off_then_the_password_confirms_once(api: WalletApi):
    """The check page shows 1 USDT fee, 101 USDT taken and the cool-off; confirming twice withdraws once."""
    client, user_id = _ready(api)
    checked = _check(client)
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200, html
    for text in ("USDT 1", "USDT 101", "You have not withdrawn to this address before", 'name="code"'):
        assert text in html, text
    confirm = {**_hidden(html), "password": PASSWORD}
    first = client.post("/app/withdraw", data=confirm)
    again = client.post("/app/withdraw", data=confirm)
    assert first.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "a first-time address is sent after" in page and ADDRESS in page
    assert len(api.services.withdrawals.for_user(user_id)) == 1
    assert api.services.wallets.balances(user_id)["USDT"] == Money.of("199", "USDT")


@pytest.mark.parametrize(
    ("fields", "password", "status", "shown"),
    [
        ({}, "wrong password", 403, "the password or code is wrong"),
        ({"amount": "400"}, PASSWORD, 422, "Limit reached: withdraw.single"),
        ({"address": SANCTIONED}, PASSWORD, 422, "refused by compliance rule"),
    ],
)
def test_refusals_are_shown_on_the_form_and_move_nothing(api: WalletApi, fields, password, status, shown):
    """A wrong password, a limit and a sanctioned address: the reason on the page, the balance untouched."""
    client, user_id = _ready(api)
    html = _check(client, **fields).get_data(as_text=True)
    answer = client.post("/app/withdraw", data={**_hidden(html), "password": password})
    page = answer.get_data(as_text=True)
    assert answer.status_code == status, page
    assert shown in page
    assert api.services.wallets.balances(user_id)["USDT"] == Money.of("300", "USDT")


@pytest.mark.parametrize("max_fee", [None, "", "lots", "-1"])
def test_a_confirm_without_the_fee_it_showed_moves_nothing(api: WalletApi, max_fee: str | None):
    """The confirmation's ``max_fee`` missing, blank or not a fee: a 422 ``fee_not_shown`` shows the first form
    again with what was typed (check again), and nothing is withdrawn."""
    client, user_id = _ready(api)
    html = _check(client).get_data(as_text=True)
    confirm = {k: v for k, v in _hidden(html).items() if k != "max_fee"} | {"password": PASSWORD}
    answer = client.post("/app/withdraw", data=confirm | ({} if max_fee is None else {"max_fee": max_fee}))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "does not carry the fee you were shown" in page, page
    assert 'action="/app/withdraw/check"' in page and ADDRESS in page
    assert api.services.withdrawals.for_user(user_id) == []
    assert api.services.wallets.balances(user_id)["USDT"] == Money.of("300", "USDT")


def test_a_bad_address_is_refused_at_the_check_with_what_was_typed(api: WalletApi):
    """A Tron address on Polygon: the check refuses it and keeps the typed address in the form."""
    client, _ = _ready(api)
    refused = _check(client, address="TLsanctionedTronAddressXXXXXXXXXXX")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "not a polygon address" in html
    assert re.search(r'id="address"[^>]*value="TLsanctionedTronAddressXXXXXXXXXXX"', html)


def test_an_address_cryptopay_controls_is_refused_at_the_check(api: WalletApi):
    """H20: the hot wallet's address (configured in the fixture): refused on the form, told to pay by phone."""
    client, user_id = _ready(api)
    refused = _check(client, address=HOT)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "belongs to cryptopay" in html and "phone or username" in html, html
    assert api.services.withdrawals.for_user(user_id) == []


def test_the_page_speaks_swahili(api: WalletApi):
    """With the language set to Swahili the page and its menu are in Swahili."""
    client, _ = _ready(api)
    client.get("/lang/sw?next=/app/withdraw")
    html = client.get("/app/withdraw").get_data(as_text=True)
    assert "Toa sarafu za kidijitali" in html and "Hakiki anwani na ada" in html


def test_networks_are_named_as_people_write_them(api: WalletApi):
    """The network list reads Tron, Polygon, BNB Smart Chain (the values stay the API's names), and so does the
    check's destination."""
    client, _user = _ready(api)
    form = client.get("/app/withdraw").get_data(as_text=True)
    assert '<option value="bsc">BNB Smart Chain</option>' in form and '<option value="tron"' in form
    assert re.search(r'<option value="polygon"[^>]*>Polygon</option>', form), form
    checked = _check(client).get_data(as_text=True)
    assert "(Polygon)</dd>" in checked and '<a href="/app/withdraw">Change the withdrawal</a>' in checked
