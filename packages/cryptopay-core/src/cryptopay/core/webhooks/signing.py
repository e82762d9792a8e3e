"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` under a ``whsec_`` secret.

The secret is ``whsec_`` followed by the base64 of the key bytes; the timestamp is whole Unix seconds. A receiver
accepts a message whose timestamp is within ``tolerance`` of its clock and one of whose space-separated
signatures matches (several appear while a secret is being rotated).

>>> secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
>>> sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
>>> secret_is_valid(generate_secret())
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cryptopay.core.errors import InvalidInput

__all__ = [
    "DEFAULT_TOLERANCE",
    "SECRET_PREFIX",
    "InvalidSignature",
    "generate_secret",
    "secret_is_valid",
    "sign",
    "signature_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = timedelta(minutes=5)
_MIN_KEY, _MAX_KEY = 24, 64


class InvalidSignature(InvalidInput):
    """A webhook's headers or signature do not check out (missing, malformed, stale or not matching)."""

    code = "invalid_webhook_signature"


def generate_secret() -> str:
    """A new endpoint secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("a webhook secret is 'whsec_' followed by base64") from None
    if not _MIN_KEY <= len(key) <= _MAX_KEY:
        raise InvalidInput(f"a webhook secret holds {_MIN_KEY} to {_MAX_KEY} key bytes")
    return key


def secret_is_valid(secret: str) -> bool:
    """Whether ``secret`` is a usable ``whsec_`` secret (never says why, never echoes it)."""
    try:
        _key(secret)
    except InvalidInput:
        return False
    return secret.startswith(SECRET_PREFIX)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,`` signature of one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secret: str, message_id: str, at: datetime, body: bytes, *, also: Sequence[str] = ()
) -> dict[str, str]:
    """The three Standard Webhooks headers for a message sent at ``at``; each secret of ``also`` (a rotated-out
    secret during its overlap) adds its signature after the first, space-separated."""
    timestamp = int(at.timestamp())
    signatures = [sign(key, message_id, timestamp, body) for key in (secret, *also)]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise InvalidSignature(f"the {name} header is missing")


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime, tolerance: timedelta = DEFAULT_TOLERANCE
) -> str:
    """Check a received webhook; return its ``webhook-id`` or raise ``InvalidSignature``."""
    message_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    if not stamp.isdigit():
        raise InvalidSignature("the webhook-timestamp header is not whole Unix seconds")
    if abs(now.timestamp() - int(stamp)) > tolerance.total_seconds():
        raise InvalidSignature("the webhook timestamp is outside the tolerance (stale or from the future)")
    expected = sign(secret, message_id, int(stamp), body).encode()
    offered = _header(headers, "webhook-signature").split()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in offered):
        raise InvalidSignature("no webhook signature matches")
    return message_id
