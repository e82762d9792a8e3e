"""Review F12: one shape for an amount of money across the wallet API (``amount`` a decimal string, ``currency`` an
asset code, as the merchant API has it), on the root's real SQL services (SQLite and PostgreSQL).

The older shapes (``kes``, ``usdt``, ``asset``, an amount object, a bill's amount without a currency) still work and
answer exactly as the canonical shape does, with RFC 9745 ``Deprecation``, ``Sunset`` and ``Link`` headers and a
count in ``/metrics``; two shapes at once are a 422 ``amount_shapes_mixed``; the OpenAPI document publishes the
canonical shape and marks the deprecated fields, and refuses what the server refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.http.http_support import database_env
from tests.integration.http.test_http_remittances import BODY
from tests.integration.http.test_http_remittances import Api as RemitApi
from tests.integration.http.test_http_remittances import _api as remit_api
from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.http.test_http_wallet import _api as wallet_api
from tests.integration.http.test_http_wallet_bills import _api as bills_api
from tests.integration.http.test_http_wallet_withdrawals import ADDRESS
from tests.integration.http.test_http_wallet_withdrawals import _api as withdrawals_api
from tests.support.customer_keys import customer_key

ENV = {"CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
DEPRECATION = "@1796515200"  # 2026-12-06T00:00:00Z, RFC 9745's structured date
SUNSET = "Wed, 30 Jun 2027 00:00:00 GMT"
FIXTURE_EACH_EXAMPLE = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _rig(request: pytest.FixtureRequest, tmp_path: Path, name: str, build: Any) -> Iterator[WalletApi]:
    with database_env(request, {**ENV, "CRYPTOPAY_DATA_DIR": str(tmp_path)}, name) as found:
        yield from build(found, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletApi]:
    yield from _rig(request, tmp_path, "cryptopay_http_amounts", wallet_api)


@pytest.fixture(params=["sqlite", "postgres"])
def bills(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletApi]:
    yield from _rig(request, tmp_path, "cryptopay_http_amounts_bills", bills_api)


@pytest.fixture(params=["sqlite", "postgres"])
def withdrawals(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletApi]:
    yield from _rig(request, tmp_path, "cryptopay_http_amounts_out", withdrawals_api)


def _person(api: WalletApi, phone: str, *, kes: str | None = None) -> dict[str, str]:
    user = api.sign_up(phone)["user"]["id"]
    api.tier_1(user)
    if kes is not None:
        api.fund(user, kes)
    return api.login(phone, stepped_up=True)  # large sends need a step-up (review5 S4)


def _deprecated_count(api: WalletApi, route: str, shape: str) -> float:
    registry = api.client.application.extensions["cryptopay.metrics"].registry
    found = registry.get_sample_value("cryptopay_http_deprecated_shapes_total", {"route": route, "shape": shape})
    return found or 0.0


_DIFFERENT = ("id", "created_at", "finished_at", "claim_expires_at", "send_after", "instance", "quote_id", "phone")


def _same(answer: Any) -> tuple[int, Any]:
    """What a client sees of an answer, without what differs by construction (ids, times, the request's path)."""
    body = answer.get_json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in _DIFFERENT}
    return answer.status_code, body


def _assert_deprecated(answer: Any) -> None:
    assert answer.headers["Deprecation"] == DEPRECATION
    assert answer.headers["Sunset"] == SUNSET
    assert answer.headers["Link"] == '</docs#amounts>; rel="deprecation"; type="text/html"'


def _assert_current(answer: Any) -> None:
    assert "Deprecation" not in answer.headers and "Sunset" not in answer.headers


# (path, canonical body, the same in a deprecated shape, the shape's name in the metric)
MONEY_OPERATIONS = [
    (
        "/v1/wallet/transfers",
        {"to": "0712000002", "amount": "300", "currency": "KES"},
        {"to": "0712000002", "amount": {"amount": "300", "asset": "KES"}},
        "amount_object",
    ),
    ("/v1/wallet/cashouts", {"amount": "128", "currency": "KES"}, {"kes": "128"}, "kes"),
    ("/v1/wallet/buys", {"amount": "1000", "currency": "KES"}, {"kes": "1000"}, "kes"),
]


@pytest.mark.parametrize(("path", "canonical", "old", "shape"), MONEY_OPERATIONS)
def test_a_deprecated_shape_is_answered_as_the_canonical_one_with_deprecation_headers(
    api: WalletApi, path: str, canonical: dict[str, Any], old: dict[str, Any], shape: str
):
    """Two people with the same balance send the same request, one in each shape: the same answer (ids aside) and
    the same balance after; only the deprecated one carries Deprecation, Sunset and Link headers, and it is counted."""
    api.sign_up("0712000002")
    answers, balances = [], []
    for n, body in enumerate((canonical, old)):
        headers = _person(api, f"07130000{n}1", kes="1000")
        answer = api.client.post(path, json=body, headers={**headers, "Idempotency-Key": f"k-{n}"})
        assert answer.status_code == 201, answer.get_json()
        answers.append(answer)
        balances.append(api.client.get("/v1/wallet/balances", headers=headers).get_json())
    new, deprecated = answers
    assert _same(new) == _same(deprecated) and balances[0] == balances[1]
    _assert_current(new)
    _assert_deprecated(deprecated)
    assert _deprecated_count(api, path, shape) == 1
    assert _deprecated_count(api, path, "amount_and_currency") == 0


def test_a_sale_in_either_shape_is_the_same_refusal_and_the_metric_is_scraped(api: WalletApi):
    """Selling USDT one has not got: ``usdt`` and ``amount``+``currency`` give the same problem; /metrics shows it."""
    headers = {**_person(api, "0712000001"), "Idempotency-Key": "s-1"}
    new = api.client.post("/v1/wallet/sells", json={"amount": "6", "currency": "USDT"}, headers=headers)
    old = api.client.post("/v1/wallet/sells", json={"usdt": "6"}, headers={**headers, "Idempotency-Key": "s-2"})
    assert new.get_json()["code"] == "insufficient_funds" and _same(new) == _same(old)
    _assert_deprecated(old)
    _assert_current(new)


# What the edge adds to every answer, fresh each time (never kept for a replay), and what a replay adds
_EDGE = {"x-request-id", "ratelimit-limit", "ratelimit-remaining", "cache-control", "pragma", "content-length"}
_EDGE |= {"content-security-policy", "x-frame-options", "referrer-policy", "x-content-type-options"}
_EDGE |= {"cross-origin-opener-policy", "server", "idempotent-replayed"}


def _described(answer: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in answer.headers.items() if k.lower() not in _EDGE}


@pytest.mark.parametrize(("body", "status"), [({"kes": "128"}, 201), ({"kes": "5000"}, 422)])
def test_a_replay_repeats_the_headers_describing_the_first_answer_and_nothing_fresh(
    api: WalletApi, body: dict[str, Any], status: int
):
    """A retry under the same Idempotency-Key of a deprecated-shape cash-out (a success, and a refusal: both are
    kept) gets the first answer with its Deprecation, Sunset, Link (and Location) headers again, counted once; its
    request id and rate limit are its own, not the first request's."""
    headers = {**_person(api, "0712000001", kes="1000"), "Idempotency-Key": "replay-1"}
    first = api.client.post("/v1/wallet/cashouts", json=body, headers={**headers, "X-Request-Id": "first-request"})
    again = api.client.post("/v1/wallet/cashouts", json=body, headers={**headers, "X-Request-Id": "retry-request"})
    assert first.status_code == status == again.status_code, first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    _assert_deprecated(again)
    assert _described(again) == _described(first)
    assert ("location" in _described(again)) == (status == 201)
    assert first.headers["X-Request-Id"] == "first-request" and again.headers["X-Request-Id"] == "retry-request"
    # the first answer tells the wallet's pace of sales and cash-outs (its tightest count, review7 F12); the replay
    # never reaches that count, so it tells the general limit's, counted afresh
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("10", "9")
    assert int(again.headers["RateLimit-Limit"]) > 10 and int(again.headers["RateLimit-Remaining"]) > 9
    assert _deprecated_count(api, "/v1/wallet/cashouts", "kes") == 1  # one operation, counted once
    canonical = {"amount": body["kes"], "currency": "KES"}
    fresh = {**headers, "Idempotency-Key": "replay-2"}
    for answer in (api.client.post("/v1/wallet/cashouts", json=canonical, headers=fresh) for _ in range(2)):
        _assert_current(answer)
        assert "link" not in _described(answer)


_LOGINS: dict[Path, dict[str, dict[str, str]]] = {}  # by the test's own SMS file: one per test and database


def _login(api: WalletApi, phone: str, **funds: str) -> dict[str, str]:
    """The person's headers, signing them up (and funding them) the first time one example of a test asks."""
    logins = _LOGINS.setdefault(api.sms_file, {})
    if phone not in logins:
        logins[phone] = _person(api, phone, **funds)
    return logins[phone]


@FIXTURE_EACH_EXAMPLE
@given(amount=st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False))
def test_any_transfer_amount_gets_the_same_answer_in_both_shapes(api: WalletApi, amount: Decimal):
    """Two people with the same KES 100,000 send the same amounts in the same order to the same person, one always
    in the canonical shape, one always in the deprecated object: the same status and body every time, whatever the
    outcome (sent, beyond the balance or a limit, zero)."""
    _login(api, "0712000002")  # the recipient
    text = str(amount)
    answers = []
    for phone, body in (
        ("0713000001", {"to": "0712000002", "amount": text, "currency": "KES"}),
        ("0713000002", {"to": "0712000002", "amount": {"amount": text, "asset": "KES"}}),
    ):
        headers = {**_login(api, phone, kes="100000"), "Idempotency-Key": f"t-{text}"}
        answers.append(api.client.post("/v1/wallet/transfers", json=body, headers=headers))
    assert _same(answers[0]) == _same(answers[1])
    assert answers[0].status_code in (201, 422)


@FIXTURE_EACH_EXAMPLE
@given(amount=st.integers(min_value=0, max_value=2_000_000).map(str) | st.sampled_from(["1.5", "100.00", "007"]))
def test_any_bill_amount_gets_the_same_answer_with_and_without_currency(bills: WalletApi, amount: str):
    """A bill's amount without a currency (deprecated: shillings) checks exactly as with ``currency: KES``."""
    headers = _login(bills, "0712000001")
    body = {"biller": "KPLC_PREPAID", "account": "0123 4567 890", "amount": amount}
    old = bills.client.post("/v1/wallet/bills/validate", json=body, headers=headers)
    new = bills.client.post("/v1/wallet/bills/validate", json={**body, "currency": "KES"}, headers=headers)
    assert _same(old) == _same(new)
    _assert_deprecated(old)
    _assert_current(new)


@FIXTURE_EACH_EXAMPLE
@given(
    amount=st.decimals(min_value=0, max_value=1000, places=7, allow_nan=False, allow_infinity=False).map(str),
    currency=st.sampled_from(["USDT", "BTC", "USDC"]),
)
def test_any_withdrawal_quote_is_the_same_with_asset_or_currency(withdrawals: WalletApi, amount: str, currency: str):
    """``asset`` (deprecated) and ``currency`` name the same thing: the same quote or the same problem."""
    headers = _login(withdrawals, "0712000001")
    body = {"network": "polygon", "address": ADDRESS, "amount": amount}
    old = withdrawals.client.post("/v1/wallet/withdrawal-quotes", json={**body, "asset": currency}, headers=headers)
    new = withdrawals.client.post("/v1/wallet/withdrawal-quotes", json={**body, "currency": currency}, headers=headers)
    old_status, old_body = _same(old)
    new_status, new_body = _same(new)
    assert old_status == new_status, (old_body, new_body)
    if old_status == 422:  # the same problem, naming the field the client used
        old_body = json.loads(json.dumps(old_body).replace("asset", "currency"))
    assert old_body == new_body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/wallet/transfers", {"to": "0712000002", "amount": {"amount": "300", "asset": "KES"}, "currency": "KES"}),
        ("/v1/wallet/buys", {"amount": "1000", "currency": "KES", "kes": "500"}),
        ("/v1/wallet/buys", {"amount": "1000", "kes": "1000"}),
        ("/v1/wallet/sells", {"usdt": "1", "currency": "USDT"}),
        ("/v1/wallet/cashouts", {"amount": "100", "currency": "KES", "kes": "200"}),
    ],
)
def test_two_shapes_at_once_are_a_specific_problem_and_move_nothing(api: WalletApi, path: str, body: dict[str, Any]):
    """Which amount was meant? Neither is guessed: 422 ``amount_shapes_mixed`` on ``amount``, nothing moves."""
    headers = _person(api, "0712000001", kes="1000")
    answer = api.client.post(path, json=body, headers={**headers, "Idempotency-Key": "m-1"})
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    problem = answer.get_json()
    assert problem["code"] == "amount_shapes_mixed", problem
    assert problem["errors"][0]["field"] == "amount" and "currency" in problem["detail"]
    balances = api.client.get("/v1/wallet/balances", headers=headers).get_json()
    assert balances[0] == {"amount": "1000.00", "asset": "KES"}


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("/v1/wallet/buys", {"amount": 1000, "currency": "KES"}, "amount", "never JSON numbers"),
        ("/v1/wallet/buys", {"amount": "1000"}, "currency", "is required"),
        ("/v1/wallet/buys", {"currency": "KES"}, "amount", "is required"),
        ("/v1/wallet/buys", {"amount": "1000", "currency": "USDT"}, "currency", "must be one of: KES"),
        ("/v1/wallet/buys", {"amount": "250001", "currency": "KES"}, "amount", "1 to 250,000"),
        ("/v1/wallet/buys", {"kes": "10.50"}, "kes", "whole shillings"),
        ("/v1/wallet/sells", {"amount": "1.1234567", "currency": "USDT"}, "amount", "at most 6 decimal places"),
        ("/v1/wallet/sells", {"amount": "-1", "currency": "USDT"}, "amount", "no sign"),
        ("/v1/wallet/transfers", {"to": "0712000002", "amount": "1.001", "currency": "KES"}, "amount", "2 decimal"),
        ("/v1/wallet/transfers", {"to": "0712000002", "amount": "1", "currency": "BTC"}, "currency", "KES, USDT"),
        (
            "/v1/wallet/transfers",
            {"to": "0712000002", "amount": {"amount": "1.001", "asset": "KES"}},
            "amount.amount",
            "2",
        ),
        ("/v1/wallet/cashouts", {"amount": "0", "currency": "KES"}, "amount", "above zero"),
    ],
)
def test_a_bad_amount_is_refused_on_its_field_in_words(
    api: WalletApi, path: str, body: dict[str, Any], field: str, words: str
):
    """The same checks in every shape: a string only, the currency's places, the operation's bounds."""
    headers = _person(api, "0712000001", kes="1000")
    answer = api.client.post(path, json=body, headers={**headers, "Idempotency-Key": "bad-1"})
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    (error,) = answer.get_json()["errors"]
    assert error["field"] == field and words in error["detail"], error


WALLET_REQUESTS = {
    "TransferRequest": ("amount",),
    "BuyRequest": ("kes",),
    "SellRequest": ("usdt",),
    "CashOutRequest": ("kes",),
    "BillCheckRequest": (),
    "BillRequest": (),
    "WithdrawalAsk": ("asset",),
    "WithdrawalCreate": ("asset",),
    "RemittanceRequest": ("amount",),
}


def test_the_document_publishes_the_canonical_shape_and_marks_the_deprecated_fields(api: WalletApi):
    """Every wallet money request has ``amount`` (a string) and ``currency``; the old fields are ``deprecated``; the
    schema accepts each shape alone and refuses a mix, as the server does."""
    document = api.client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    for name, deprecated in WALLET_REQUESTS.items():
        properties = schemas[name]["properties"]
        assert {"amount", "currency"} <= set(properties), name
        assert properties["currency"]["anyOf"][0]["type"] == "string", name
        for field in deprecated:
            found = properties[field]
            flagged = found.get("deprecated") or any(
                option.get("deprecated") for option in found.get("anyOf", [{}])[0].get("anyOf", [])
            )
            assert flagged, (name, field)

    def valid(name: str, body: dict[str, Any]) -> bool:
        validator = jsonschema_rs.validator_for(
            {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        )
        return bool(validator.is_valid(body))

    transfer = {"to": "0712000002"}
    assert valid("TransferRequest", {**transfer, "amount": "300", "currency": "KES"})
    assert valid("TransferRequest", {**transfer, "amount": {"amount": "300", "asset": "KES"}})
    assert not valid("TransferRequest", {**transfer, "amount": {"amount": "300", "asset": "KES"}, "currency": "KES"})
    assert not valid("TransferRequest", {**transfer, "amount": "1.001", "currency": "KES"})
    assert not valid("TransferRequest", {**transfer, "amount": 300, "currency": "KES"})
    assert valid("BuyRequest", {"amount": "1000", "currency": "KES"}) and valid("BuyRequest", {"kes": "1000"})
    assert not valid("BuyRequest", {"amount": "1000", "currency": "KES", "kes": "1000"})
    assert not valid("BuyRequest", {"amount": "250001", "currency": "KES"})
    assert valid("SellRequest", {"amount": "1.5", "currency": "USDT"}) and valid("SellRequest", {"usdt": "1.5"})
    bill = {"biller": "KPLC_PREPAID", "account": "01234567890", "amount": "1000"}
    assert valid("BillRequest", bill) and valid("BillRequest", {**bill, "currency": "KES"})
    assert not valid("BillRequest", {**bill, "amount": "10.5", "currency": "KES"})
    ask = {"network": "polygon", "address": ADDRESS, "amount": "100"}
    assert valid("WithdrawalAsk", {**ask, "currency": "USDT"}) and valid("WithdrawalAsk", {**ask, "asset": "USDT"})
    assert not valid("WithdrawalAsk", {**ask, "asset": "USDT", "currency": "USDT"})
    assert not valid("WithdrawalAsk", {**ask, "currency": "KES"})
    docs = api.client.get("/docs").get_data(as_text=True)
    assert "id='amounts'" in docs and "amount_shapes_mixed" in docs


@pytest.fixture(params=["sqlite", "postgres"])
def remit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RemitApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}"}
    with database_env(request, env, "cryptopay_http_amounts_remit") as found:
        yield from remit_api(found)


@pytest.mark.parametrize("currency", ["KES", "USDT"])
def test_a_remittance_order_is_the_same_in_either_shape(remit: RemitApi, currency: str):
    """A sender abroad (no account) opens the same order in each shape: the same amounts, rate and rails; the
    deprecated object is answered with the deprecation headers; both at once is a 422 that opens nothing."""
    amount = "5000" if currency == "KES" else "40"
    body = {k: v for k, v in BODY.items() if k != "amount"}
    new = remit.client.post(
        "/v1/wallet/remittances",
        json={**body, "amount": amount, "currency": currency},
        headers={"Idempotency-Key": customer_key(f"new-{currency}")},
    )
    old = remit.client.post(
        "/v1/wallet/remittances",
        json={**body, "amount": {"amount": amount, "asset": currency}},
        headers={"Idempotency-Key": customer_key(f"old-{currency}")},
    )
    assert new.status_code == old.status_code == 201, (new.get_json(), old.get_json())
    kept = ("state", "recipient_phone", "recipient_name", "usdt", "kes", "charge", "rate")
    assert {k: new.get_json()[k] for k in kept} == {k: old.get_json()[k] for k in kept}
    assert [o["rail"] for o in new.get_json()["payment_options"]] == [
        o["rail"] for o in old.get_json()["payment_options"]
    ]
    _assert_current(new)
    _assert_deprecated(old)
    mixed = remit.client.post(
        "/v1/wallet/remittances",
        json={**body, "amount": {"amount": amount, "asset": currency}, "currency": currency},
        headers={"Idempotency-Key": customer_key(f"mixed-{currency}")},
    )
    assert (mixed.status_code, mixed.get_json()["code"]) == (422, "amount_shapes_mixed")
    assert len(remit.stack.remittances.orders()) == 2
