"""Every official Daraja sample parses to the right normalised view, and the parser tolerates shape drift."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money import (
    Outcome,
    PayloadKind,
    parse_account_balance,
    parse_payload,
    parse_payload_text,
)
from cryptopay.core.money import KES, Money

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "daraja"

# file -> (kind, success, result_code, receipt, amount, phone, occurred_at, reference)
EXPECTED = {
    "account_balance_result_official.json": (
        "result",
        True,
        "0",
        None,
        None,
        None,
        "2020-01-09T12:57:10+03:00",
        "16917-22577599-3",
    ),
    "b2b_paybill_result_failure_2001_official.json": (
        "result",
        False,
        "2001",
        None,
        None,
        None,
        "2020-01-20T16:48:25+03:00",
        "12337-23509183-5",
    ),
    "b2b_paybill_sync_response_official.json": (
        "acknowledgement",
        True,
        "0",
        None,
        None,
        None,
        None,
        "5118-111210482-1",
    ),
    "b2c_result_failure_2001_official.json": (
        "result",
        False,
        "2001",
        None,
        None,
        None,
        None,
        "53e3-4aa8-9fe0-8fb5e4092cdd3544366",
    ),
    "b2c_result_success_official.json": (
        "result",
        True,
        "0",
        "SG632NMUAB",
        "10",
        "254705912645",
        "2024-07-06T22:48:52+03:00",
        "53e3-4aa8-9fe0-8fb5e4092cdd3533373",
    ),
    "b2c_v3_request_official.json": (
        "request",
        False,
        None,
        None,
        "10",
        "254705912645",
        None,
        "600997_Test_32et3241ed8yu",
    ),
    "b2c_v3_sync_response_official.json": (
        "acknowledgement",
        True,
        "0",
        None,
        None,
        None,
        None,
        "600997_Test_32et3241ed8yu",
    ),
    "c2b_v2_confirmation_masked_official.json": (
        "c2b",
        True,
        "0",
        "RKL51ZDR4F",
        "5",
        None,
        "2023-11-21T12:13:25+03:00",
        None,
    ),
    "error_400.002.02_invalid_shortcode_official.json": ("error", False, "400.002.02", None, None, None, None, None),
    "error_500.002.1001_duplicate_originatorconversationid_official.json": (
        "error",
        False,
        "500.002.1001",
        None,
        None,
        None,
        None,
        None,
    ),
    "reversal_result_failure_R000002_official.json": (
        "result",
        False,
        "R000002",
        None,
        None,
        None,
        None,
        "3124-481d-b706-10bdd6fbc8e21792398",
    ),
    "reversal_result_success_official.json": (
        "result",
        True,
        "0",
        None,
        "1",
        "254705912645",
        "2021-11-14T13:27:11+03:00",
        "dad6-4c34-8787-c8cb963a496d1268232",
    ),
    "stk_callback_cancelled_1032_official.json": (
        "stk_callback",
        False,
        "1032",
        None,
        None,
        None,
        None,
        "ws_CO_21072024125243250722943992",
    ),
    "stk_callback_success_official.json": (
        "stk_callback",
        True,
        "0",
        "NLJ7RT61SV",
        "1",
        "254708374149",
        "2019-12-19T10:21:15+03:00",
        "ws_CO_191220191020363925",
    ),
    "stk_push_sync_response_official.json": (
        "acknowledgement",
        True,
        "0",
        None,
        None,
        None,
        None,
        "ws_CO_1007202409152617172396192",
    ),
    "transaction_status_request_official.json": (
        "request",
        False,
        None,
        None,
        None,
        None,
        None,
        "7071-4170-a0e5-8345632bad442144258",
    ),
    "transaction_status_result_success_official.json": (
        "result",
        True,
        "0",
        "MBN31H462N",
        "300",
        "254708374149",
        "2018-02-23T05:41:12+03:00",
        "3213-416199-2",
    ),
}


def test_every_fixture_has_an_expectation() -> None:
    """The table covers every official sample in the fixtures folder."""
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_official_sample_parses_to_its_normalised_view(name: str) -> None:
    """Each official sample yields the expected kind, outcome, code, receipt, amount, phone, time and reference."""
    view = parse_payload_text((FIXTURES / name).read_bytes()).to_json()
    got = tuple(
        view[k] for k in ("kind", "success", "result_code", "receipt", "amount", "phone", "occurred_at", "reference")
    )
    assert got == EXPECTED[name]


def test_amounts_are_money_never_floats() -> None:
    """The STK callback's ``1.00`` becomes exact KES money."""
    result = parse_payload_text((FIXTURES / "stk_callback_success_official.json").read_text())
    assert result.amount == Money.of("1", KES) and isinstance(result.amount.amount, Decimal)


def test_a_careless_float_from_json_loads_keeps_its_digits() -> None:
    """A payload decoded with floats still gives exact money (the float's shortest digits, not its binary value)."""
    data = json.loads((FIXTURES / "reversal_result_success_official.json").read_text())
    assert parse_payload(data).amount == Money.of("1.00", KES)


def _result(code: object, parameters: object = None) -> dict[str, object]:
    body: dict[str, object] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "d",
        "OriginatorConversationID": "o",
        "ConversationID": "c",
        "TransactionID": "T",
    }
    if parameters is not None:
        body["ResultParameters"] = {"ResultParameter": parameters}
    return {"Result": body}


@pytest.mark.parametrize(
    ("code", "expected", "outcome"),
    [
        (0, "0", Outcome.SUCCEEDED),
        ("0", "0", Outcome.SUCCEEDED),
        (Decimal("0.0"), "0", Outcome.SUCCEEDED),
        (2001, "2001", Outcome.FAILED),
        ("R000002", "R000002", Outcome.FAILED),
    ],
)
def test_result_code_may_be_int_string_or_alphanumeric(code: object, expected: str, outcome: Outcome) -> None:
    """ResultCode reads the same whether Daraja sent a number, a string or an alphanumeric code."""
    result = parse_payload(_result(code))
    assert (result.result_code, result.outcome) == (expected, outcome)


def test_result_parameter_may_be_one_object_or_a_list() -> None:
    """A single ResultParameter object reads like a one-item list."""
    single = parse_payload(_result(0, {"Key": "TransactionReceipt", "Value": "ABC123"}))
    listed = parse_payload(_result(0, [{"Key": "TransactionReceipt", "Value": "ABC123"}]))
    assert single.receipt == listed.receipt == "ABC123"


def test_items_without_a_value_are_kept_as_none() -> None:
    """A parameter without a Value (``Balance``, ``TransactionReason``) is present with no value."""
    result = parse_payload(_result(0, [{"Key": "TransactionReason"}, {"Key": "Amount", "Value": "5"}]))
    assert result.parameters[0] == ("TransactionReason", None) and result.amount == Money.of(5, KES)


@pytest.mark.parametrize("stamp", [20240706224852, "20240706224852", "06.07.2024 22:48:52"])
def test_dates_as_numbers_or_dotted_strings_are_nairobi_time(stamp: object) -> None:
    """Both Daraja date shapes mean the same Nairobi moment."""
    result = parse_payload(_result(0, [{"Key": "TransCompletedTime", "Value": stamp}]))
    assert result.occurred_at is not None and result.occurred_at.isoformat() == "2024-07-06T22:48:52+03:00"


def test_an_unreadable_date_is_no_date() -> None:
    """A date in an unknown shape is left out instead of failing the whole payload."""
    assert parse_payload(_result(0, [{"Key": "TransCompletedTime", "Value": "soon"}])).occurred_at is None


def test_stk_query_answer_and_being_processed_envelope() -> None:
    """An STK query answer is a stk_query; the 'being processed' envelope is pending, not failed."""
    answer = parse_payload(
        {
            "ResponseCode": "0",
            "ResponseDescription": "ok",
            "MerchantRequestID": "m",
            "CheckoutRequestID": "ws_1",
            "ResultCode": "1037",
            "ResultDesc": "timeout",
        }
    )
    pending = parse_payload(
        {"requestId": "r", "errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}
    )
    assert (answer.kind, answer.outcome, answer.reference) == (PayloadKind.STK_QUERY, Outcome.FAILED, "ws_1")
    assert pending.outcome is Outcome.PENDING


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"hello": "world"}', b"\xff\xfe"])
def test_what_is_not_a_daraja_payload_is_refused_clearly(payload: bytes) -> None:
    """Garbage, a list or an unknown object raise InvalidInput with a reason."""
    with pytest.raises(InvalidInput):
        parse_payload_text(payload)


def test_account_balance_string_becomes_money_per_account() -> None:
    """The AccountBalance parameter splits into available balances, negative ones included."""
    result = parse_payload_text((FIXTURES / "account_balance_result_official.json").read_bytes())
    balances = parse_account_balance(result.param("AccountBalance") or "")
    assert balances["Utility Account"] == Money.of("228037.00", KES)
    assert balances["Charges Paid Account"] == Money.of("-1540.00", KES)
