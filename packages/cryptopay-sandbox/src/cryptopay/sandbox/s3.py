"""S3 simulator: the object API's wire format (path-style), with AWS Signature V4 verified on every request.

Speaks ``PUT/GET/HEAD/DELETE /{bucket}/{key}`` (PutObject, GetObject, HeadObject, DeleteObject), ``PUT /{bucket}``
(CreateBucket) and ``GET /{bucket}?list-type=2`` (ListObjectsV2, ``prefix``, ``max-keys``, ``continuation-token``).
Errors are S3's XML documents (``<Error><Code>..</Code><Message>..</Message>..<RequestId>..</RequestId></Error>``,
``application/xml``; a HEAD's error has no body) with S3's statuses:

- no or malformed ``Authorization``: 403 ``AccessDenied`` / 400 ``AuthorizationHeaderMalformed`` (also a scope
  naming another region or service); an unknown access key: 403 ``InvalidAccessKeyId``; a wrong signature: 403
  ``SignatureDoesNotMatch``; ``x-amz-date`` more than 15 minutes off: 403 ``RequestTimeTooSkewed``;
- a body whose SHA-256 is not the signed ``x-amz-content-sha256``: 400 ``XAmzContentSHA256Mismatch``; a
  ``Content-MD5`` that does not match: 400 ``BadDigest``;
- ``NoSuchBucket``, ``NoSuchKey`` (404). DeleteObject answers 204 whether or not the key existed, as S3 does.

The signature is recomputed from the request as it arrived (the raw path, the query, the signed headers' values),
so a client that signs something other than what it sends is refused here as S3 would refuse it.

Control API (no signature): ``GET /_sandbox/s3/objects`` (bucket, key, size, etag of everything stored),
``POST /_sandbox/s3/reset``; ``POST /_sim/fail {"count": n}``: the next n requests answer 500 ``InternalError``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import uuid
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import attrs
from cryptopay.adapters.documents.sigv4 import (
    SignedRequest,
    canonical_request,
    signature,
    signing_key,
    string_to_sign,
)
from cryptopay.sandbox._sim import add_outage
from flask import Flask, Response, jsonify, request

__all__ = [
    "SANDBOX_ACCESS_KEY_ID",
    "SANDBOX_BUCKET",
    "SANDBOX_REGION",
    "SANDBOX_SECRET_ACCESS_KEY",
    "S3SimulatorState",
    "StoredObject",
    "create_s3_simulator",
]

SANDBOX_ACCESS_KEY_ID = "AKIASANDBOX000000001"
SANDBOX_SECRET_ACCESS_KEY = "sandbox/secret/key/0000000000000000000000"
SANDBOX_REGION = "af-south-1"
SANDBOX_BUCKET = "cryptopay-documents"
MAX_SKEW = timedelta(minutes=15)
_CREDENTIAL = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<scope>\d{8}/[^/]+/[^/]+/aws4_request),\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


@attrs.frozen
class StoredObject:
    body: bytes
    etag: str
    last_modified: datetime


@attrs.define
class S3SimulatorState:
    """Buckets of objects and the accepted key pairs; thread-safe through ``lock``."""

    region: str = SANDBOX_REGION
    keys: dict[str, str] = attrs.Factory(lambda: {SANDBOX_ACCESS_KEY_ID: SANDBOX_SECRET_ACCESS_KEY})
    buckets: dict[str, dict[str, StoredObject]] = attrs.Factory(lambda: {SANDBOX_BUCKET: {}})
    failures_left: int = 0
    requests: int = 0
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.buckets = {name: {} for name in self.buckets}
            self.failures_left = 0


class _S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _error(error: _S3Error) -> Response:
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in error.extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{error.code}</Code><Message>{escape(error.message)}</Message>{fields}"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return Response(b"" if request.method == "HEAD" else body, status=error.status, mimetype="application/xml")


def _raw_path() -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return str(raw).split("?", 1)[0]


def _verify(state: S3SimulatorState, body: bytes) -> None:
    """Refuse the request unless its SigV4 signature is right for what arrived (see the module's list)."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise _S3Error(403, "AccessDenied", "Access Denied")
    found = _CREDENTIAL.match(header.strip())
    if found is None:
        raise _S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed")
    scope = found["scope"]
    day, region, service, _ = scope.split("/")
    if region != state.region or service != "s3":
        raise _S3Error(
            400,
            "AuthorizationHeaderMalformed",
            f"the region '{region}' is wrong; expecting '{state.region}'",
            Region=state.region,
        )
    secret = state.keys.get(found["key"])
    if secret is None:
        raise _S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    signed = found["signed"].split(";")
    date = request.headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or not date.startswith(day):
        raise _S3Error(400, "AuthorizationHeaderMalformed", "host and x-amz-date must be signed, on the scope's day")
    _fresh(date)
    payload = request.headers.get("x-amz-content-sha256", "")
    if not payload:
        raise _S3Error(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
        raise _S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match")
    headers = {name: request.headers.get(name, "") for name in signed}
    query = parse_qsl(request.query_string.decode(), keep_blank_values=True)
    canonical, _ = canonical_request(SignedRequest(request.method, _raw_path(), query, headers, payload))
    expected = signature(signing_key(secret, day, region, service), string_to_sign(canonical, date=date, scope=scope))
    if not hmac.compare_digest(expected, found["signature"]):
        raise _S3Error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            AWSAccessKeyId=found["key"],
        )


def _fresh(date: str) -> None:
    try:
        at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None
    if abs(datetime.now(UTC) - at) > MAX_SKEW:
        raise _S3Error(
            403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
        )


def _bucket(state: S3SimulatorState, name: str) -> dict[str, StoredObject]:
    found = state.buckets.get(name)
    if found is None:
        raise _S3Error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=name)
    return found


def _object_headers(stored: StoredObject) -> dict[str, str]:
    return {
        "ETag": f'"{stored.etag}"',
        "Last-Modified": format_datetime(stored.last_modified, usegmt=True),
        "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
    }


def _object(state: S3SimulatorState, bucket: str, key: str) -> Response:
    body = request.get_data()
    _verify(state, body)
    with state.lock:
        objects = _bucket(state, bucket)
        if request.method == "PUT":
            return _put(objects, key, body)
        if request.method == "DELETE":
            objects.pop(key, None)
            return Response(status=204)
        stored = objects.get(key)
    if stored is None:
        raise _S3Error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
    content = b"" if request.method == "HEAD" else stored.body
    response = Response(content, status=200, mimetype="binary/octet-stream", headers=_object_headers(stored))
    response.content_length = len(stored.body)
    return response


def _put(objects: dict[str, StoredObject], key: str, body: bytes) -> Response:
    md5 = hashlib.md5(body, usedforsecurity=False)
    claimed = request.headers.get("Content-MD5")
    if claimed is not None and claimed != b64encode(md5.digest()).decode():
        raise _S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    stored = StoredObject(body, md5.hexdigest(), datetime.now(UTC).replace(microsecond=0))
    objects[key] = stored
    return Response(status=200, headers=_object_headers(stored))


def _list(state: S3SimulatorState, bucket: str) -> Response:
    _verify(state, request.get_data())
    args = request.args
    if args.get("list-type") != "2":
        raise _S3Error(400, "InvalidArgument", "only ListObjectsV2 (list-type=2) is simulated")
    prefix, limit = args.get("prefix", ""), min(int(args.get("max-keys", "1000")), 1000)
    after = args.get("continuation-token", "")
    with state.lock:
        keys = sorted(k for k in _bucket(state, bucket) if k.startswith(prefix) and k > after)
        page = [(k, state.buckets[bucket][k]) for k in keys[:limit]]
    truncated = len(keys) > limit
    items = "".join(
        f"<Contents><Key>{escape(k)}</Key><LastModified>{o.last_modified.strftime('%Y-%m-%dT%H:%M:%S.000Z')}"
        f'</LastModified><ETag>"{o.etag}"</ETag><Size>{len(o.body)}</Size><StorageClass>STANDARD</StorageClass>'
        "</Contents>"
        for k, o in page
    )
    token = f"<NextContinuationToken>{escape(page[-1][0])}</NextContinuationToken>" if truncated else ""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{_XMLNS}"><Name>{escape(bucket)}</Name>'
        f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{items}{token}</ListBucketResult>"
    )
    return Response(body, status=200, mimetype="application/xml")


def _create_bucket(state: S3SimulatorState, bucket: str) -> Response:
    _verify(state, request.get_data())
    with state.lock:
        if bucket in state.buckets:
            raise _S3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded")
        state.buckets[bucket] = {}
    return Response(status=200, headers={"Location": f"/{bucket}"})


def _control(app: Flask, state: S3SimulatorState) -> None:
    @app.get("/_sandbox/s3/objects")
    def objects() -> Any:
        with state.lock:
            rows = [
                {"bucket": b, "key": k, "size": len(o.body), "etag": o.etag}
                for b, found in state.buckets.items()
                for k, o in sorted(found.items())
            ]
        return jsonify(objects=rows)

    @app.post("/_sandbox/s3/reset")
    def reset() -> Any:
        state.reset()
        return jsonify(reset=True)


def create_s3_simulator(state: S3SimulatorState | None = None) -> Flask:
    """The S3 simulator as a Flask app; pass a ``state`` to read and script it in-process."""
    app = Flask("cryptopay-s3-simulator")
    the_state = state or S3SimulatorState()
    app.extensions["s3_simulator"] = the_state
    add_outage(app, the_state, lambda: _error(_S3Error(500, "InternalError", "We encountered an internal error.")))
    app.register_error_handler(_S3Error, _error)
    _control(app, the_state)

    @app.route("/<bucket>/<path:key>", methods=["GET", "HEAD", "PUT", "DELETE"])
    def object_(bucket: str, key: str) -> Response:
        with the_state.lock:
            the_state.requests += 1
        return _object(the_state, bucket, key)

    @app.route("/<bucket>", methods=["GET", "PUT"])
    @app.route("/<bucket>/", methods=["GET", "PUT"])
    def bucket_(bucket: str) -> Response:
        return _create_bucket(the_state, bucket) if request.method == "PUT" else _list(the_state, bucket)

    return app
