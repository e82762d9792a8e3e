"""Outside review: the new portal pages (/app/withdraw, /app/verify, /app/settings, /app/deposit) as an attacker.

A form posted without its CSRF token changes nothing; another user's withdrawal page is a 404; odd amounts and
addresses on the withdraw form are 4xx pages that move nothing; a replayed or wrong code withdraws nothing; the
portal's cookie copied under the dashboard's name is no login there.
"""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.money import Money

from tests.integration.http.http_support import PASSWORD
from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.http.test_http_wallet_withdrawals import ADDRESS, _usdt
from tests.integration.http_review.test_outside_review_crypto import api as api
from tests.integration.web.test_portal_pages import _csrf, _hidden, _sign_up

FORMS = [
    "/app/withdraw/check",
    "/app/withdraw",
    "/app/verify",
    "/app/verify/app_1/documents",
    "/app/verify/app_1/submit",
    "/app/settings/2fa/enrol",
    "/app/settings/2fa/confirm",
    "/app/settings/2fa/remove",
    "/app/settings/password",
]


def _ready(api: WalletApi, phone: str = "0712 000 001"):
    client = _sign_up(api, phone)
    wire = "254" + phone.replace(" ", "")[-9:]
    with api.services.uow() as uow:
        user = uow.users.by_phone(wire)
    api.tier_1(user.id)
    _usdt(api, user.id, "300")
    return client, user.id


def _usdt_of(api: WalletApi, user_id: str) -> Money:
    return api.services.wallets.balances(user_id)["USDT"]


def _checked(client, **fields: str) -> str:
    form = client.get("/app/withdraw").get_data(as_text=True)
    data = {**_hidden(form), "network": "polygon", "asset": "USDT", "address": ADDRESS, "amount": "100", **fields}
    answer = client.post("/app/withdraw/check", data=data)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


def test_portal_forms_without_their_csrf_token_change_nothing(api: WalletApi):
    client, user_id = _ready(api)
    html = _checked(client)
    for path in FORMS:
        form = {k: v for k, v in _hidden(html).items() if k != "csrf_token"}
        answer = client.post(path, data={**form, "password": PASSWORD, "new_password": "x" * 20, "code": "123456"})
        assert answer.status_code in (400, 403), (path, answer.status_code)
        forged = client.post(path, data={**form, "csrf_token": "A" * 43, "password": PASSWORD})
        assert forged.status_code in (400, 403), (path, forged.status_code)
    assert api.services.withdrawals.for_user(user_id) == []
    assert _usdt_of(api, user_id) == Money.of("300", "USDT")


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": "-1"},
        {"amount": "NaN"},
        {"amount": "1e400"},
        {"amount": "Infinity"},
        {"amount": "9" * 400},
        {"amount": "100\x00"},
        {"amount": "１００"},
        {"address": ADDRESS + "\x00"},
        {"address": "0x52908400098527886E0F7030069857D2E4169Ee7"},
        {"address": "\u202e" + ADDRESS},
        {"address": "x" * 100000},
        {"network": "polygon\x00"},
        {"network": "../../etc"},
        {"asset": "KES"},
    ],
    ids=lambda f: repr(f)[:40],
)
def test_odd_withdraw_forms_are_4xx_pages_that_move_nothing(api: WalletApi, fields: dict[str, str]):
    client, user_id = _ready(api)
    form = client.get("/app/withdraw").get_data(as_text=True)
    data = {**_hidden(form), "network": "polygon", "asset": "USDT", "address": ADDRESS, "amount": "100", **fields}
    checked = client.post("/app/withdraw/check", data=data)
    assert 400 <= checked.status_code < 500, (checked.status_code, checked.get_data(as_text=True)[:300])
    confirm = client.post("/app/withdraw", data={**data, "idempotency_key": "k-odd", "password": PASSWORD})
    assert 400 <= confirm.status_code < 500, (confirm.status_code, confirm.get_data(as_text=True)[:300])
    assert PASSWORD not in confirm.get_data(as_text=True)
    assert api.services.withdrawals.for_user(user_id) == []
    assert _usdt_of(api, user_id) == Money.of("300", "USDT")


def test_a_form_key_reused_with_another_amount_withdraws_once_and_a_wrong_code_none(api: WalletApi):
    client, user_id = _ready(api)
    html = _checked(client)
    confirm = {**_hidden(html), "password": PASSWORD}
    assert client.post("/app/withdraw", data=confirm).status_code == 303
    changed = client.post("/app/withdraw", data={**confirm, "amount": "150"})
    assert changed.status_code in (303, 409, 422), changed.status_code
    wrong = client.post("/app/withdraw", data={**_hidden(_checked(client)), "password": "not it", "code": "000000"})
    assert wrong.status_code in (401, 403), wrong.status_code
    assert len(api.services.withdrawals.for_user(user_id)) == 1
    assert _usdt_of(api, user_id) == Money.of("199", "USDT")


def test_another_user_s_withdrawal_page_is_a_404_and_cookies_keep_to_their_face(api: WalletApi):
    client, _ = _ready(api)
    confirm = {**_hidden(_checked(client)), "password": PASSWORD}
    made = client.post("/app/withdraw", data=confirm)
    assert made.status_code == 303
    location = made.headers["Location"]
    other = attrs.evolve(api, client=api.client.application.test_client())
    stranger, _ = _ready(other, "0712 000 002")
    answer = stranger.get(location)
    assert answer.status_code == 404, answer.status_code
    assert ADDRESS not in answer.get_data(as_text=True)
    for odd in ("%00", "x" * 5000, "..%2F..%2Fapp", "\u202e"):
        assert 400 <= stranger.get(f"/app/withdraw/{odd}").status_code < 500, odd
    # the portal's session cookie under the dashboard's name is no login on the dashboard or the console
    portal = client.get_cookie("cp_app", path="/app")
    assert portal is not None
    thief = api.client.application.test_client()
    thief.set_cookie("cp_session", portal.value, path="/")
    for path in ("/dashboard/", "/console/", "/console/kyc"):
        answer = thief.get(path)
        assert answer.status_code == 303 and answer.headers["Location"].startswith("/dashboard/login"), path
    # a visitor on the new pages is asked to log in
    visitor = api.client.application.test_client()
    for path in ("/app/withdraw", "/app/deposit", "/app/verify", "/app/settings", location):
        answer = visitor.get(path)
        assert answer.status_code == 303 and answer.headers["Location"].startswith("/app/login"), path
    assert _csrf(client.get("/app/settings").get_data(as_text=True))


PERSON_FORM = {
    "level": "1",
    "legal_name": "Amina Wanjiru",
    "date_of_birth": "1990-04-01",
    "id_type": "national_id",
    "id_number": "12345678",
    "address": "Moi Avenue 12, Nairobi",
}


@pytest.mark.parametrize(
    "fields",
    [
        {"level": "abc"},
        {"level": ""},
        {"level": "1.5"},
        {"level": "9" * 5000},
        {"level": "-1"},
        {"legal_name": "Amina\x00"},
        {"legal_name": "\u202eanimA"},
        {"date_of_birth": "1990-02-30"},
        {"date_of_birth": "0000-01-01"},
        {"date_of_birth": "9999-12-31"},
        {"id_type": "passport\x00"},
        {"id_number": "1" * 5000},
        {"address": "\x00"},
    ],
    ids=lambda f: repr(f)[:40],
)
def test_odd_verify_forms_are_4xx_pages_that_open_no_application(api: WalletApi, fields: dict[str, str]):
    client, _ = _ready(api)
    token = _csrf(client.get("/app/verify").get_data(as_text=True))
    answer = client.post("/app/verify", data={"csrf_token": token, **PERSON_FORM, **fields})
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert "12345678" not in answer.get_data(as_text=True) or "id_number" not in fields


@pytest.mark.parametrize(
    "fields",
    [
        {"code": "\x00"},
        {"code": "9" * 5000},
        {"code": "１２３４５６"},
        {"current_password": PASSWORD, "new_password": "a" * 100000, "new_password_again": "a" * 100000},
        {"current_password": PASSWORD, "new_password": "x", "new_password_again": "y"},
        {"current_password": PASSWORD, "new_password": "\x00" * 20, "new_password_again": "\x00" * 20},
        {"current_password": PASSWORD, "new_password": "new pass\r\nword!", "new_password_again": "new pass\r\nword!"},
    ],
    ids=lambda f: repr(f)[:40],
)
def test_odd_settings_forms_are_4xx_pages_that_change_nothing(api: WalletApi, fields: dict[str, str]):
    client, _ = _ready(api)
    token = _csrf(client.get("/app/settings").get_data(as_text=True))
    path = "/app/settings/2fa/confirm" if "code" in fields else "/app/settings/password"
    answer = client.post(path, data={"csrf_token": token, **fields})
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert PASSWORD not in answer.get_data(as_text=True)
    assert client.get("/app/").status_code == 200  # still logged in with the old password
