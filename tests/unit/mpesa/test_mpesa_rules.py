"""Daraja rules in the core: error envelopes as typed errors, callback defences, STK password, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.errors import Conflict, InvalidInput, Unavailable
from cryptopay.core.mobile_money import (
    SAFARICOM_CALLBACK_NETWORKS,
    CallbackInbox,
    MpesaAuthFailed,
    MpesaBadRequest,
    MpesaDuplicateRequest,
    MpesaStillProcessing,
    MpesaThrottled,
    MpesaTokenExpired,
    MpesaUnavailable,
    Outcome,
    SourceAllowlist,
    callback_url,
    daraja_timestamp,
    error_for_envelope,
    new_callback_token,
    parse_payload,
    reconcile_stk,
    status_outcome,
    status_query_due,
    stk_password,
    token_digest,
    token_from_url,
    verify_callback_token,
)
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.daraja_payloads import not_found_status_result, status_result, stk_callback


@pytest.mark.parametrize(
    ("code", "message", "cls", "retry_safe"),
    [
        ("404.001.03", "Invalid Access Token", MpesaTokenExpired, True),
        ("500.003.02", "Spike arrest violation", MpesaThrottled, True),
        ("500.003.03", "Quota Violation", MpesaThrottled, True),
        ("500.002.1001", "Duplicate OriginatorConversationID.", MpesaDuplicateRequest, False),
        ("500.001.1001", "The transaction is being processed", MpesaStillProcessing, False),
        ("500.001.1001", "Wrong credentials", MpesaAuthFailed, False),
        ("400.002.02", "Bad Request - Invalid BusinessShortCode", MpesaBadRequest, False),
        ("401.003.01", "Error Occurred - Invalid Access Token", MpesaAuthFailed, False),
        ("503.001.01", "Service Unavailable", MpesaUnavailable, False),
    ],
)
def test_every_error_envelope_maps_to_a_typed_error(code: str, message: str, cls: type, retry_safe: bool) -> None:
    """Each envelope becomes its typed error, keeping the code; only token expiry and throttling are resendable."""
    error = error_for_envelope(code, message, "req-1")
    assert type(error) is cls and error.error_code == code and error.request_id == "req-1"
    assert error.retry_safe is retry_safe and code in error.message


def test_error_families_match_the_sdk_hierarchy() -> None:
    """A bad field is invalid input, a duplicate id a conflict, throttling a dependency problem."""
    assert isinstance(error_for_envelope("400.002.02", "x"), InvalidInput)
    assert isinstance(error_for_envelope("500.002.1001", "x"), Conflict)
    assert isinstance(error_for_envelope("500.003.02", "x"), Unavailable)


def test_stk_password_and_timestamp_use_nairobi_time() -> None:
    """Midnight UTC is 03:00 in Nairobi; the password is base64(shortcode + passkey + timestamp)."""
    stamp = daraja_timestamp(datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC))
    assert stamp == "20240101030000"
    assert stk_password("174379", "key", stamp) == "MTc0Mzc5a2V5MjAyNDAxMDEwMzAwMDA="
    with pytest.raises(InvalidInput):
        daraja_timestamp(datetime(2024, 1, 1))


def test_callback_tokens_verify_only_the_right_token() -> None:
    """The token in the URL verifies against the stored digest; another token or none does not."""
    token = new_callback_token()
    url = callback_url("https://pay.example.com/callbacks/b2c/", token) + "?x=1"
    assert token_from_url(url) == token and len(token) >= 40
    assert verify_callback_token(token_from_url(url), token_digest(token))
    assert not verify_callback_token(new_callback_token(), token_digest(token))
    assert not verify_callback_token(None, token_digest(token))
    assert new_callback_token() != token


def test_source_allowlist_checks_networks_and_allows_all_when_empty() -> None:
    """Only listed networks pass; an empty list passes everyone; garbage addresses never pass."""
    safaricom = SourceAllowlist.of(*SAFARICOM_CALLBACK_NETWORKS)
    assert safaricom.allows("196.201.214.200") and not safaricom.allows("127.0.0.1")
    assert not safaricom.allows("not-an-ip") and not safaricom.allows(None)
    assert SourceAllowlist().allows("10.1.2.3")


def test_inbox_accepts_each_event_once_across_its_ids() -> None:
    """A repeated callback, or a late one sharing any id with a handled one, is refused."""
    first = parse_payload(
        stk_callback(
            "m1",
            "ws_1",
            "0",
            "ok",
            amount=Money.of(5, KES),
            receipt="R1",
            phone="254708374149",
            at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    inbox = CallbackInbox()
    assert inbox.accept(first) and not inbox.accept(first)
    assert inbox.accept(parse_payload(stk_callback("m2", "ws_2", "1032", "cancelled")))


def test_status_query_falls_due_after_the_deadline() -> None:
    """A request without a final result is queried once it is older than the deadline."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert not status_query_due(start, start + timedelta(seconds=119))
    assert status_query_due(start, start + timedelta(minutes=2))


def test_status_outcome_reads_the_queried_transaction() -> None:
    """Completed, Failed and Pending statuses and the not-found answer map to outcomes."""
    at, money = datetime(2024, 1, 1, tzinfo=UTC), Money.of(10, KES)

    def status(state: str) -> Outcome:
        payload = status_result(
            "q",
            "c",
            receipt="R",
            status=state,
            amount=money,
            phone="254708374149",
            original_originator="po",
            original_conversation="AG",
            at=at,
        )
        return status_outcome(parse_payload(payload))

    assert [status("Completed"), status("Failed"), status("Pending")] == [
        Outcome.SUCCEEDED,
        Outcome.FAILED,
        Outcome.PENDING,
    ]
    assert status_outcome(parse_payload(not_found_status_result("q", "c"))) is Outcome.NOT_FOUND


def test_stk_reconciliation_trusts_only_agreement() -> None:
    """A callback and a query that agree decide; disagreement or silence stays pending."""
    ok = parse_payload(
        stk_callback(
            "m",
            "ws",
            "0",
            "ok",
            amount=Money.of(1, KES),
            receipt="R",
            phone="254708374149",
            at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    failed_query = parse_payload(
        {
            "ResponseCode": "0",
            "MerchantRequestID": "m",
            "CheckoutRequestID": "ws",
            "ResultCode": "1032",
            "ResultDesc": "cancelled",
        }
    )
    ok_query = parse_payload(
        {
            "ResponseCode": "0",
            "MerchantRequestID": "m",
            "CheckoutRequestID": "ws",
            "ResultCode": "0",
            "ResultDesc": "ok",
        }
    )
    assert reconcile_stk(ok, ok_query) is Outcome.SUCCEEDED
    assert reconcile_stk(ok, failed_query) is Outcome.PENDING
    assert reconcile_stk(None, None) is Outcome.PENDING
    assert reconcile_stk(None, failed_query) is Outcome.FAILED
