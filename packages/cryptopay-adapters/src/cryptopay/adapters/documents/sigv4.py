"""AWS Signature Version 4 for S3-compatible stores: the canonical request, the string to sign, the signing key.

Written from AWS's definition ("Create a signed AWS API request") and checked against its published test vectors
(the SigV4 test suite's ``get-vanilla`` family and the S3 API reference's GET/PUT object examples). S3 encodes the
path once (every byte but ``A-Za-z0-9-._~`` and ``/`` percent-encoded); query parameters are sorted by encoded name
then value; header names are lower-cased, values trimmed with inner runs of spaces collapsed.

>>> creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
>>> request = SignedRequest("GET", "/", (), {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
...                         EMPTY_SHA256)
>>> authorization(request, creds, region="us-east-1", service="service")[-16:]
'9b8aae1d763fbf31'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

import attrs

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "Credentials",
    "SignedRequest",
    "amz_date",
    "authorization",
    "canonical_request",
    "encode_path",
    "signature",
    "signing_key",
    "string_to_sign",
]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNRESERVED = "-_.~"  # with letters and digits: what AWS leaves unencoded


@attrs.frozen
class Credentials:
    """An access key pair (and, for temporary credentials, a session token); the secret never shows in a repr."""

    access_key_id: str
    secret_access_key: str = attrs.field(repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class SignedRequest:
    """What the signature covers: method, the path as sent (already encoded), query pairs (decoded), the headers to
    sign (``host`` and ``x-amz-date`` at least) and the payload's hex SHA-256 (or ``UNSIGNED-PAYLOAD``)."""

    method: str
    path: str
    query: Sequence[tuple[str, str]]
    headers: Mapping[str, str]
    payload_sha256: str


def amz_date(at: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC, the form of ``x-amz-date``."""
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def encode_path(key_path: str) -> str:
    """A path as S3 expects it on the wire and in the canonical request: each byte outside ``A-Za-z0-9-._~/``
    percent-encoded (``/test$file.text`` -> ``/test%24file.text``)."""
    return quote(key_path, safe="/" + _UNRESERVED)


def _encode(text: str) -> str:
    return quote(text, safe=_UNRESERVED)


def canonical_request(request: SignedRequest) -> tuple[str, str]:
    """(the canonical request, the signed headers list ``host;x-amz-date``)."""
    query = "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in request.query))
    headers = sorted((name.lower().strip(), " ".join(value.split())) for name, value in request.headers.items())
    signed = ";".join(name for name, _ in headers)
    lines = [
        request.method.upper(),
        request.path or "/",
        query,
        "".join(f"{name}:{value}\n" for name, value in headers),
        signed,
        request.payload_sha256,
    ]
    return "\n".join(lines), signed


def string_to_sign(canonical: str, *, date: str, scope: str) -> str:
    """``AWS4-HMAC-SHA256``, the request's ``x-amz-date``, the credential scope and the canonical request's hash."""
    return "\n".join([ALGORITHM, date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """HMAC chain ``AWS4<secret>`` -> day -> region -> service -> ``aws4_request``."""
    key = _hmac(f"AWS4{secret}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(request: SignedRequest, credentials: Credentials, *, region: str, service: str = "s3") -> str:
    """The ``Authorization`` header for ``request`` (its ``x-amz-date`` header gives the time signed)."""
    date = next(v for k, v in request.headers.items() if k.lower() == "x-amz-date")
    scope = f"{date[:8]}/{region}/{service}/aws4_request"
    canonical, signed = canonical_request(request)
    key = signing_key(credentials.secret_access_key, date[:8], region, service)
    proof = signature(key, string_to_sign(canonical, date=date, scope=scope))
    return f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, SignedHeaders={signed}, Signature={proof}"
