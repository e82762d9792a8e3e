"""Standard Webhooks signing and verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.webhooks import InvalidSignature, generate_secret, secret_is_valid, sign, signature_headers, verify
from hypothesis import given
from hypothesis import strategies as st

# The reference vector published with the Standard Webhooks libraries ("sign function works").
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_TIME = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    """Signing the reference message gives the reference signature."""
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_headers_carry_id_timestamp_and_signature() -> None:
    """The three headers are webhook-id, webhook-timestamp (whole seconds) and webhook-signature."""
    headers = signature_headers(VECTOR_SECRET, VECTOR_ID, VECTOR_TIME.replace(microsecond=999), VECTOR_BODY)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_verify_accepts_the_reference_message_and_returns_its_id() -> None:
    """A receiver verifying the reference message within the tolerance gets its id back."""
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TIMESTAMP),
        "Webhook-Signature": VECTOR_SIGNATURE,
    }
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIME + timedelta(minutes=4)) == VECTOR_ID


def test_verify_accepts_any_of_several_signatures_during_rotation() -> None:
    """One matching signature among several (old and new secret) is enough."""
    headers = signature_headers(VECTOR_SECRET, VECTOR_ID, VECTOR_TIME, VECTOR_BODY)
    other = sign(generate_secret(), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    headers["webhook-signature"] = f"{other} {headers['webhook-signature']}"
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIME) == VECTOR_ID


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"test": 2432232315}'}, "no webhook signature matches"),
        ({"now": VECTOR_TIME + timedelta(minutes=6)}, "outside the tolerance"),
        ({"now": VECTOR_TIME - timedelta(minutes=6)}, "outside the tolerance"),
        ({"secret": "whsec_" + "A" * 32}, "no webhook signature matches"),
        ({"drop": "webhook-signature"}, "webhook-signature header is missing"),
        ({"timestamp": "16142653.30"}, "not whole Unix seconds"),
    ],
)
def test_verify_refuses_tampering_staleness_and_missing_headers(change: dict, reason: str) -> None:
    """A changed body, a stale or future timestamp, a wrong secret or a missing header is refused with a reason."""
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    headers.pop(change.get("drop", ""), None)
    if "timestamp" in change:
        headers["webhook-timestamp"] = change["timestamp"]
    with pytest.raises(InvalidSignature, match=reason):
        verify(
            change.get("secret", VECTOR_SECRET),
            headers,
            change.get("body", VECTOR_BODY),
            now=change.get("now", VECTOR_TIME),
        )


def test_generated_secrets_are_whsec_base64_and_distinct() -> None:
    """A new secret is whsec_ + base64 of 32 bytes, and two are never equal."""
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_") and len(first) == len("whsec_") + 44
    assert secret_is_valid(first) and first != second


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_" + "QUJD", "", "whsec_"])
def test_malformed_secrets_are_refused_without_echoing_them(secret: str) -> None:
    """A secret that is not base64 of 24 to 64 bytes is refused, and the message never contains it."""
    assert not secret_is_valid(secret)
    with pytest.raises(InvalidInput) as caught:
        sign(secret, "msg_1", 1, b"{}")
    assert secret.removeprefix("whsec_") not in str(caught.value) or not secret.removeprefix("whsec_")


@given(body=st.binary(max_size=200), message_id=st.from_regex(r"msg_[A-Za-z0-9]{1,20}", fullmatch=True))
def test_whatever_is_signed_verifies_and_any_changed_byte_does_not(body: bytes, message_id: str) -> None:
    """Sign-then-verify round-trips for any body, and flipping one byte breaks the signature."""
    secret = VECTOR_SECRET
    headers = signature_headers(secret, message_id, VECTOR_TIME, body)
    assert verify(secret, headers, body, now=VECTOR_TIME) == message_id
    if body:
        tampered = bytes([body[0] ^ 1]) + body[1:]
        with pytest.raises(InvalidSignature):
            verify(secret, headers, tampered, now=VECTOR_TIME)
