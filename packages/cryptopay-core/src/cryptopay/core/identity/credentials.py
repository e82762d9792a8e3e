"""Credentials with only the standard library: secret hashing, API key strings, HMAC-signed access tokens.

Access tokens are compact JWTs (HS256) whose header names the signing key id, so keys can rotate: new tokens are
signed with the current key while tokens signed with a previous key stay valid until they expire.

>>> signer = AccessTokenSigner({"k1": b"0" * 32}, current="k1")
>>> from datetime import datetime, timedelta, timezone
>>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> token = signer.sign(AccessClaims("usr_1", "merchant", "jti_1", now, now + timedelta(minutes=15)))
>>> signer.verify(token, now=now).subject
'usr_1'
>>> key_id, secret, presented = new_api_key("key_01ABC")
>>> parse_api_key(presented) == (key_id, secret)
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.model import StepUpRequired, Unauthenticated

__all__ = [
    "API_KEY_PREFIX",
    "AccessClaims",
    "AccessTokenSigner",
    "StepUpClaims",
    "hash_secret",
    "new_api_key",
    "new_secret",
    "parse_api_key",
    "secrets_equal",
]

API_KEY_PREFIX = "cp_"
_MIN_KEY_BYTES = 32


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret with ``nbytes`` of entropy."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (API keys, refresh tokens); never use this for passwords.

    >>> len(hash_secret("abc"))
    64
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def secrets_equal(left: str, right: str) -> bool:
    """Constant-time comparison of two secrets or hashes."""
    return hmac.compare_digest(left.encode(), right.encode())


def new_api_key(key_id: str) -> tuple[str, str, str]:
    """A fresh API key for ``key_id``: (key id, secret, the string shown once to the merchant)."""
    secret = new_secret()
    return key_id, secret, f"{API_KEY_PREFIX}{key_id}.{secret}"


def parse_api_key(presented: str) -> tuple[str, str] | None:
    """Split ``cp_<key id>.<secret>`` into its key id and secret; None if it is not an API key string."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    key_id, dot, secret = presented[len(API_KEY_PREFIX) :].partition(".")
    if not dot or not key_id or not secret:
        return None
    return key_id, secret


@attrs.frozen
class AccessClaims:
    """What an access token asserts: who, in which login (``family_id``) and session version, until when.

    The role in a token is informative only: each request reloads it (see ``identity.sessions``).
    """

    subject: str
    role: str
    token_id: str
    issued_at: datetime
    expires_at: datetime
    family_id: str = ""
    session_version: int = 0
    enrolment_only: bool = False


@attrs.frozen
class StepUpClaims:
    """A step-up proof: this user, in this login, re-authenticated at ``issued_at``; good until ``expires_at``."""

    subject: str
    family_id: str
    issued_at: datetime
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@attrs.frozen(repr=False)
class AccessTokenSigner:
    """Signs and verifies HS256 access tokens with named keys; its repr never shows a key."""

    _keys: Mapping[str, bytes] = attrs.field(alias="keys")
    _current: str = attrs.field(alias="current")

    def __attrs_post_init__(self) -> None:
        if self._current not in self._keys:
            raise InvalidInput(f"the current signing key id {self._current!r} has no key")
        if any(len(key) < _MIN_KEY_BYTES for key in self._keys.values()):
            raise InvalidInput(f"token signing keys must be at least {_MIN_KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"AccessTokenSigner(key_ids={sorted(self._keys)}, current={self._current!r})"

    def sign(self, claims: AccessClaims) -> str:
        """A compact JWT carrying ``claims``, signed with the current key."""
        payload = {
            "sub": claims.subject,
            "role": claims.role,
            "jti": claims.token_id,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "fam": claims.family_id,
            "sv": claims.session_version,
            "enr": claims.enrolment_only,
            "typ": "access",
        }
        return self._encode(payload)

    def sign_step_up(self, claims: StepUpClaims) -> str:
        """A step-up proof token (``typ`` step_up): never accepted as an access token, nor the reverse."""
        payload = {
            "sub": claims.subject,
            "fam": claims.family_id,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "typ": "step_up",
        }
        return self._encode(payload)

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        """The claims of a genuine, unexpired access token; ``Unauthenticated`` otherwise."""
        try:
            payload = self._decode(token, "access")
            claims = AccessClaims(
                subject=str(payload["sub"]),
                role=str(payload["role"]),
                token_id=str(payload["jti"]),
                issued_at=datetime.fromtimestamp(_int(payload["iat"]), UTC),
                expires_at=datetime.fromtimestamp(_int(payload["exp"]), UTC),
                family_id=str(payload["fam"]),
                session_version=_int(payload["sv"]),
                enrolment_only=payload["enr"] is True,
            )
        except (ValueError, KeyError, TypeError):
            raise Unauthenticated("the access token is invalid") from None
        if now >= claims.expires_at:
            raise Unauthenticated("the access token has expired")
        return claims

    def verify_step_up(self, token: str, *, now: datetime) -> StepUpClaims:
        """The claims of a genuine, unexpired step-up token; ``StepUpRequired`` otherwise."""
        try:
            payload = self._decode(token, "step_up")
            claims = StepUpClaims(
                subject=str(payload["sub"]),
                family_id=str(payload["fam"]),
                issued_at=datetime.fromtimestamp(_int(payload["iat"]), UTC),
                expires_at=datetime.fromtimestamp(_int(payload["exp"]), UTC),
            )
        except (ValueError, KeyError, TypeError):
            raise StepUpRequired("the step-up token is invalid; step up again (POST /v1/auth/step-up)") from None
        if now >= claims.expires_at:
            raise StepUpRequired("the step-up has expired; step up again (POST /v1/auth/step-up)")
        return claims

    def sign_reset(self, subject: str, fingerprint: str, *, expires_at: datetime) -> str:
        """A password-reset token bound to the account's current password hash (``fingerprint``)."""
        payload = {"sub": subject, "fp": fingerprint, "exp": int(expires_at.timestamp()), "typ": "reset"}
        return self._encode(payload)

    def verify_reset(self, token: str, *, now: datetime) -> tuple[str, str]:
        """(subject, fingerprint) of a genuine, unexpired reset token; ``Unauthenticated`` otherwise."""
        try:
            payload = self._decode(token, "reset")
            subject, fingerprint = str(payload["sub"]), str(payload["fp"])
            expires_at = datetime.fromtimestamp(_int(payload["exp"]), UTC)
        except (ValueError, KeyError, TypeError):
            raise Unauthenticated("the reset link is invalid or was used; ask for a new one") from None
        if now >= expires_at:
            raise Unauthenticated("the reset link has expired; ask for a new one")
        return subject, fingerprint

    def _encode(self, payload: dict[str, object]) -> str:
        header = {"alg": "HS256", "typ": "JWT", "kid": self._current}
        signing_input = f"{_b64(_canonical(header))}.{_b64(_canonical(payload))}"
        return f"{signing_input}.{_b64(self._mac(self._current, signing_input))}"

    def _decode(self, token: str, typ: str) -> dict[str, object]:
        head, body, signature = token.split(".")
        header = json.loads(_unb64(head))
        kid = header["kid"]
        if header.get("alg") != "HS256" or kid not in self._keys:
            raise ValueError("unsupported token header")
        if not hmac.compare_digest(_unb64(signature), self._mac(kid, f"{head}.{body}")):
            raise ValueError("bad signature")
        payload = json.loads(_unb64(body))
        if not isinstance(payload, dict) or payload.get("typ") != typ:
            raise ValueError(f"not a {typ} token")
        return payload

    def _mac(self, kid: str, signing_input: str) -> bytes:
        return hmac.new(self._keys[kid], signing_input.encode(), hashlib.sha256).digest()


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer claim")
    return value


def _canonical(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
