"""The TotpEngine port: pyotp (production) and the standard-library reference accept the same codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.otp import PyOtpTotp
from cryptopay.core.testing.identity import StdlibTotp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
AT = datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC)


@pytest.fixture(params=["stdlib", "pyotp"])
def engine(request):
    return StdlibTotp() if request.param == "stdlib" else PyOtpTotp()


def test_rfc_6238_vectors_match_their_step(engine):
    """The RFC 6238 SHA-1 test vectors (last six digits) are accepted at their time, in their step."""
    for seconds, code in ((59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")):
        at = datetime.fromtimestamp(seconds, UTC)
        assert engine.matching_step(RFC_SECRET, code, at=at) == seconds // 30


def test_one_step_of_drift_is_accepted_and_two_are_not(engine):
    """A code from the previous or next 30-second step is accepted; one two steps away is refused."""
    secret = engine.new_secret()
    code = StdlibTotp().code_at(secret, int(AT.timestamp()))
    step = int(AT.timestamp()) // 30
    assert engine.matching_step(secret, code, at=AT + timedelta(seconds=30)) == step
    assert engine.matching_step(secret, code, at=AT - timedelta(seconds=30)) == step
    assert engine.matching_step(secret, code, at=AT + timedelta(seconds=60)) is None


def test_secrets_are_fresh_and_the_uri_names_issuer_account_and_secret(engine):
    """Each secret is new base32; the otpauth URI carries it with the issuer and the account."""
    first, second = engine.new_secret(), engine.new_secret()
    assert first != second and base64.b32decode(first + "=" * (-len(first) % 8))
    uri = engine.provisioning_uri(first, account="ann@example.co.ke", issuer="cryptopay")
    assert uri.startswith("otpauth://totp/") and f"secret={first}" in uri and "issuer=cryptopay" in uri
