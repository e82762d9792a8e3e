"""Outside review: an attacker and a sloppy integrator against the new crypto routes (SQLite root services).

Withdrawals: odd amounts, types, nested JSON, NUL bytes and broken addresses are 4xx problems that move nothing;
no step-up or a forged one is a 403; a reused key with another body is a 409; another user's withdrawal is a 404.
Remittances: public orders refuse odd input with a problem, a reused key with another body is a 409, status by a
guessed or odd id is a 404 that leaks nothing. Deposits: another user's deposit or an odd network is a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.adapters.evm.addresses import validate_address as evm_address
from cryptopay.adapters.sms.file import FileSms
from cryptopay.adapters.tron.addresses import validate_address as tron_address

from tests.integration.http.http_support import PASSWORD, make_app
from tests.integration.http.test_http_remittances import BODY as ORDER
from tests.integration.http.test_http_remittances import Api as RemitApi
from tests.integration.http.test_http_remittances import _api as _remit_api
from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.http.test_http_wallet_withdrawals import ADDRESS, _usdt
from tests.integration.http.test_http_wallet_withdrawals import _api as _withdraw_api
from tests.support.customer_keys import customer_key
from tests.support.sql_backends import migrated_sqlite

PROBLEM = "application/problem+json"
# the checks the root wires for configured chains (``bootstrap.chains.address_validators``): EIP-55, base58check
VALIDATORS = {"ethereum": evm_address, "polygon": evm_address, "bsc": evm_address, "tron": tron_address}
GOOD = {"network": "polygon", "address": ADDRESS, "asset": "USDT", "amount": "100"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    """The withdrawals' test stack with the deployment's own address validators (checksums), as the root wires."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    for wallet_api in _withdraw_api(env, tmp_path):
        withdrawals = attrs.evolve(wallet_api.services.withdrawals, validators=VALIDATORS)
        services = attrs.evolve(wallet_api.services, withdrawals=ready(withdrawals))
        yield attrs.evolve(wallet_api, client=make_app(services).test_client(), services=services)


@pytest.fixture
def remit(tmp_path: Path) -> Iterator[RemitApi]:
    """The remittances' test stack with the deployment's own address validators, as the root wires."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    migrated_sqlite(env)
    for remit_api in _remit_api(env):
        services = remit_api.client.application.config["SERVICES_FOR_TESTS"]
        remittances = attrs.evolve(remit_api.stack.remittances, validators=VALIDATORS)
        app = make_app(attrs.evolve(services, remittances=ready(remittances)))
        yield attrs.evolve(remit_api, client=app.test_client())


def _problem(answer: Any, *statuses: int) -> dict[str, Any]:
    assert answer.status_code in statuses, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == PROBLEM, answer.content_type
    return answer.get_json()


def _user(api: WalletApi, phone: str, usdt: str = "300") -> tuple[str, dict[str, str]]:
    user = api.sign_up(phone)["user"]["id"]
    api.tier_1(user)
    _usdt(api, user, usdt)
    headers = api.login(phone)
    answer = api.client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return user, {**headers, "X-Step-Up-Token": answer.get_json()["step_up_token"]}


def _usdt_of(api: WalletApi, headers: dict[str, str]) -> str:
    balances = api.client.get("/v1/wallet/balances", headers=headers).get_json()
    return next(b["amount"] for b in balances if b["asset"] == "USDT")


ODD_WITHDRAWALS: list[Any] = [
    {"amount": "-1"},
    {"amount": "0"},
    {"amount": "NaN"},
    {"amount": "Infinity"},
    {"amount": "1e2"},
    {"amount": "1E-3"},
    {"amount": 100},
    {"amount": 1e400},
    {"amount": None},
    {"amount": ["100"]},
    {"amount": {"amount": "100"}},
    {"amount": "99999999999999999999999999"},
    {"amount": "100\u0000"},
    {"amount": "\u0661\u0660\u0660"},  # Arabic-Indic digits
    {"amount": "１００"},  # fullwidth digits
    {"address": ADDRESS + "\u0000"},
    {"address": ADDRESS.lower()[:-1] + "X"},
    {"address": "0x52908400098527886E0F7030069857D2E4169Ee7"},  # EIP-55 checksum broken
    {"address": "0x" + "0" * 40},
    {"address": "\u202e" + ADDRESS},
    {"address": "\udc00" * 30},
    {"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"},  # a bitcoin address on polygon
    {"address": 123456789012345678901234567890},
    {"address": {"$ne": ""}},
    {"network": "Polygon"},
    {"network": "polygon\u0000"},
    {"network": ["polygon"]},
    {"asset": "usdt"},
    {"asset": "KES"},
    {"asset": "USDT\u0000"},
    {"self_hosted": "yes"},
    {"self_hosted": 1},
    {"extra": {"a": {"b": {"c": [1, [2, [3]]]}}}},
]


@pytest.mark.parametrize("change", ODD_WITHDRAWALS, ids=lambda c: repr(c)[:40])
def test_odd_withdrawals_and_quotes_are_4xx_problems_that_move_nothing(api: WalletApi, change: dict[str, Any]):
    _, headers = _user(api, "0712000001")
    body = {**GOOD, **change}
    for path in ("/v1/wallet/withdrawal-quotes", "/v1/wallet/withdrawals"):
        answer = api.client.post(path, json=body, headers={**headers, "Idempotency-Key": "odd"})
        shown = _problem(answer, 400, 404, 409, 422)
        assert PASSWORD not in str(shown) and headers["X-Step-Up-Token"] not in str(shown)
    assert _usdt_of(api, headers) == "300.000000"
    assert api.client.get("/v1/wallet/withdrawals", headers=headers).get_json()["data"] == []


@pytest.mark.parametrize("raw", [b"", b"null", b"[]", b'"x"', b"{", b'{"amount": NaN}', b"\xff\xfe", b"{}" * 3])
def test_a_withdrawal_body_that_is_not_an_object_is_a_400_or_422_problem(api: WalletApi, raw: bytes):
    _, headers = _user(api, "0712000001")
    answer = api.client.post(
        "/v1/wallet/withdrawals",
        data=raw,
        headers={**headers, "Idempotency-Key": "raw", "Content-Type": "application/json"},
    )
    _problem(answer, 400, 415, 422)
    assert _usdt_of(api, headers) == "300.000000"


def test_a_withdrawal_without_a_key_or_a_real_step_up_is_refused(api: WalletApi):
    _, headers = _user(api, "0712000001")
    plain = {k: v for k, v in headers.items() if k != "X-Step-Up-Token"}
    token, middle = headers["X-Step-Up-Token"], len(headers["X-Step-Up-Token"]) // 2
    # one character changed in the middle (the last one may carry only base64 padding bits: changing it can decode
    # to the same bytes, which made this probe fail one run in sixteen)
    tampered = token[:middle] + ("B" if token[middle] == "A" else "A") + token[middle + 1 :]
    for forged in ("", "x", tampered, "A" * 500, "\u0000"):
        stepped = {**plain, "X-Step-Up-Token": forged, "Idempotency-Key": f"f{len(forged)}"}
        _problem(api.client.post("/v1/wallet/withdrawals", json=GOOD, headers=stepped), 400, 401, 403)
    _problem(api.client.post("/v1/wallet/withdrawals", json=GOOD, headers=headers), 400, 428)
    assert _usdt_of(api, headers) == "300.000000"


def test_a_step_up_token_belongs_to_its_user(api: WalletApi):
    _, mine = _user(api, "0712000001")
    _, theirs = _user(api, "0712000002")
    borrowed = {**theirs, "X-Step-Up-Token": mine["X-Step-Up-Token"], "Idempotency-Key": "b"}
    _problem(api.client.post("/v1/wallet/withdrawals", json=GOOD, headers=borrowed), 401, 403)
    assert _usdt_of(api, theirs) == "300.000000"


def test_a_withdrawal_key_reused_with_another_body_is_a_conflict(api: WalletApi):
    _, headers = _user(api, "0712000001")
    keyed = {**headers, "Idempotency-Key": "same"}
    assert api.client.post("/v1/wallet/withdrawals", json=GOOD, headers=keyed).status_code == 201
    _problem(api.client.post("/v1/wallet/withdrawals", json={**GOOD, "amount": "150"}, headers=keyed), 409, 422)
    assert _usdt_of(api, headers) == "199.000000"


def test_another_user_s_withdrawals_and_deposits_are_404s(api: WalletApi):
    _, mine = _user(api, "0712000001")
    _, theirs = _user(api, "0712000002")
    made = api.client.post("/v1/wallet/withdrawals", json=GOOD, headers={**mine, "Idempotency-Key": "w"})
    assert made.status_code == 201, made.get_json()
    wid = made.get_json()["id"]
    _problem(api.client.get(f"/v1/wallet/withdrawals/{wid}", headers=theirs), 404)
    assert api.client.get("/v1/wallet/withdrawals", headers=theirs).get_json()["data"] == []
    for odd in ("%00", "..%2F..%2Fetc", "\u202e1", "x" * 5000, "1%20OR%201=1"):
        for path in ("withdrawals", "deposits", "deposit-addresses"):
            _problem(api.client.get(f"/v1/wallet/{path}/{odd}", headers=mine), 400, 404, 422)
    assert api.client.get(f"/v1/wallet/deposits/{wid}", headers=theirs).status_code == 404
    # a user is not an outsider: no account, no withdrawals and no deposit addresses
    assert api.client.get("/v1/wallet/withdrawals").status_code == 401
    assert api.client.get("/v1/wallet/deposit-addresses").status_code == 401


ODD_ORDERS: list[Any] = [
    {"amount": {"amount": "-5000", "asset": "KES"}},
    {"amount": {"amount": "0", "asset": "KES"}},
    {"amount": {"amount": "NaN", "asset": "KES"}},
    {"amount": {"amount": "Infinity", "asset": "KES"}},
    {"amount": {"amount": "5e3", "asset": "KES"}},
    {"amount": {"amount": "1e400", "asset": "KES"}},
    {"amount": {"amount": "99999999999999999999999", "asset": "KES"}},
    {"amount": {"amount": 5000, "asset": "KES"}},
    {"amount": {"amount": "5000", "asset": "BTC"}},
    {"amount": "5000"},
    {"amount": None},
    {"amount": {"amount": {"amount": "5000"}, "asset": "KES"}},
    {"recipient_phone": "0712345678\u0000"},
    {"recipient_phone": "+1 202 555 0100"},
    {"recipient_phone": 712345678},
    {"recipient_name": ""},
    {"recipient_name": "A\u0000chieng"},
    {"recipient_name": "\udc00"},
    {"recipient_name": "x" * 10000},
    {"recipient_name": ["Achieng"]},
    {"sender": None},
    {"sender": "Grace"},
    {"sender": {"name": "Grace", "country": "gb"}},
    {"sender": {"name": "Grace\u0000", "country": "GB"}},
    {"sender": {"name": "Grace", "country": "GB", "date_of_birth": "1990-02-30"}},
    {"sender": {"name": "Grace", "country": "GB", "date_of_birth": "9999-99-99"}},
    {"sender": {"name": "Grace", "country": "GB", "address": {"line": "x"}}},
    {"refund_address": "T" + "A" * 33},  # base58check broken
    {"refund_address": "0x52908400098527886E0F7030069857D2E4169Ee7"},  # EIP-55 broken
    {"refund_address": ""},
    {"refund_address": None},
    {"refund_address": "x" * 100000},
]


@pytest.mark.parametrize("change", ODD_ORDERS, ids=lambda c: repr(c)[:40])
def test_odd_remittance_orders_are_4xx_problems_that_store_nothing(remit: RemitApi, change: dict[str, Any]):
    answer = remit.client.post(
        "/v1/wallet/remittances", json={**ORDER, **change}, headers={"Idempotency-Key": customer_key("o")}
    )
    shown = _problem(answer, 400, 409, 413, 422)
    assert "Grace" not in str(shown) and "345 678" not in str(shown) and "345678" not in str(shown)
    assert remit.stack.remittances.orders() == []


def test_a_remittance_key_reused_with_another_body_is_a_conflict(remit: RemitApi):
    keyed = {"Idempotency-Key": customer_key("one")}
    assert remit.client.post("/v1/wallet/remittances", json=ORDER, headers=keyed).status_code == 201
    changed = {**ORDER, "amount": {"amount": "9000", "asset": "KES"}}
    _problem(remit.client.post("/v1/wallet/remittances", json=changed, headers=keyed), 409, 422)
    assert len(remit.stack.remittances.orders()) == 1


def test_a_remittance_status_cannot_be_guessed_or_probed(remit: RemitApi):
    made = remit.client.post(
        "/v1/wallet/remittances", json=ORDER, headers={"Idempotency-Key": customer_key("g")}
    ).get_json()
    public_id = made["public_id"]
    assert len(public_id) >= 16, public_id
    (order,) = remit.stack.remittances.orders()
    guesses = {
        order.id,
        "1",
        "2",
        "0",
        public_id[:-1],
        public_id.upper() if public_id != public_id.upper() else public_id.lower(),
    }
    guesses.discard(public_id)
    for guess in (*guesses, "%00", "x" * 5000, "..%2F", "' OR 1=1 --", "\u202e"):
        answer = remit.client.get(f"/v1/wallet/remittances/{guess}")
        assert answer.status_code in (400, 404, 422), (guess, answer.status_code)
        text = answer.get_data(as_text=True)
        assert "Achieng" not in text and "Grace" not in text
    shown = remit.client.get(f"/v1/wallet/remittances/{public_id}").get_json()
    assert "345678" not in str(shown) and "Grace" not in str(shown) and "Acacia" not in str(shown)


def test_my_export_is_mine_and_an_outsider_gets_none(api: WalletApi):
    """The data-subject export over the root's services: a user's export names only them, after a step-up, and a
    wallet without an email is told by SMS; no session, a 401; a session without a step-up, a 403 (review H17)."""
    amina, _ = _user(api, "0712000001")
    baraka, theirs = _user(api, "0712000002")
    _problem(api.client.get("/v1/me/export"), 401)
    plain = {k: v for k, v in theirs.items() if k != "X-Step-Up-Token"}
    assert _problem(api.client.get("/v1/me/export", headers=plain), 403)["type"].endswith("step_up_required")
    told = [m for m in FileSms(api.sms_file).read() if "data was downloaded" in m.text]
    assert told == []
    mine = api.client.get("/v1/me/export", headers=theirs)
    assert mine.status_code == 200, mine.get_data(as_text=True)[:300]
    text = mine.get_data(as_text=True)
    assert baraka in text and amina not in text and "0712000001" not in text and "254712000001" not in text
    told = [m for m in FileSms(api.sms_file).read() if "data was downloaded" in m.text]
    assert [m.to for m in told] == ["254712000002"]
    _problem(api.client.get(f"/v1/admin/privacy/subjects/{amina}/export", headers=theirs), 403)
    _problem(api.client.get(f"/v1/admin/privacy/subjects?who={amina}", headers=theirs), 403)


@pytest.mark.parametrize(
    "query",
    [
        "limit=-1",
        "limit=0",
        "limit=1e9",
        "limit=NaN",
        "limit=99999999999999999999",
        "cursor=%00",
        "cursor=" + "x" * 5000,
        "cursor=..%2F..",
        "limit=%EF%BC%91",
        "limit=%C2%B2",  # "²": str.isdigit() says yes, int() says no (a 500 before)
    ],
)
def test_odd_pages_of_my_withdrawals_and_deposits_are_4xx_problems(api: WalletApi, query: str):
    _, headers = _user(api, "0712000001")
    for path in ("/v1/wallet/withdrawals", "/v1/wallet/deposits"):
        answer = api.client.get(f"{path}?{query}", headers=headers)
        if answer.status_code != 200:
            _problem(answer, 400, 422)


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", b'{"recipient_phone": "0712345678"}'),
        ("application/json", b"\x00" * 64),
        ("application/json", b"[" * 5000 + b"]" * 5000),
        ("application/json", b'{"amount": {"amount": 1e999999, "asset": "KES"}}'),
        ("application/json", b'{"a":' * 2000 + b"1" + b"}" * 2000),
    ],
)
def test_a_remittance_body_that_is_not_a_json_object_is_a_4xx_problem(remit: RemitApi, content_type: str, raw: bytes):
    answer = remit.client.post(
        "/v1/wallet/remittances",
        data=raw,
        headers={"Idempotency-Key": customer_key("raw"), "Content-Type": content_type},
    )
    _problem(answer, 400, 413, 415, 422)
    assert remit.stack.remittances.orders() == []
