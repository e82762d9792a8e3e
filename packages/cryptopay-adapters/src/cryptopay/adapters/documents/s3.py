"""``DocumentStore`` on an S3-compatible object store (AWS S3, MinIO, Ceph, R2...) over its REST API with httpx.

Objects live at ``{endpoint}/{bucket}/{prefix}{key}`` (path-style addressing, which every S3-compatible store
speaks). Each request is signed with AWS Signature V4 (``sigv4``) over the headers httpx actually sends (``host``,
``x-amz-date``, ``x-amz-content-sha256``, and for a PUT ``content-md5``), so the store checks the body twice: its
SHA-256 against the signed hash and its MD5 against ``Content-MD5`` (a corrupted upload is refused, never stored).

Answers: ``PutObject`` 200 is stored; ``GetObject`` 404 ``NoSuchKey`` is ``NotFound``; ``DeleteObject`` answers 204
whether or not the key existed. Any other answer (403 ``SignatureDoesNotMatch``/``AccessDenied``, 404
``NoSuchBucket``, 5xx, an unreachable host) is ``Unavailable`` naming the S3 error code, never the credentials.
The store only ever sees vault blobs (already encrypted), so server-side encryption is a bonus, not a need.

>>> settings = S3Settings(bucket="kyc", region="eu-west-1",
...                       credentials=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
>>> settings.endpoint_url, "EXAMPLEKEY" in repr(settings)
('https://s3.eu-west-1.amazonaws.com', False)
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import attrs
from cryptopay.adapters.documents.filesystem import check_key
from cryptopay.adapters.documents.sigv4 import Credentials, SignedRequest, amz_date, authorization, encode_path
from cryptopay.core.errors import InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:  # httpx is imported where a request is made: every process that loads the settings imports this
    import httpx

__all__ = ["S3DocumentStore", "S3Settings"]

_PREFIX = "CRYPTOPAY_S3_"
_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def _no_slash(url: str) -> str:
    return url.rstrip("/")


def _default_endpoint(settings: S3Settings) -> str:
    return f"https://s3.{settings.region}.amazonaws.com"


@attrs.frozen(kw_only=True)
class S3Settings:
    """Where documents go: bucket, region, endpoint (AWS's regional endpoint by default) and the access key."""

    bucket: str
    region: str = "us-east-1"
    credentials: Credentials
    endpoint_url: str = attrs.field(default=attrs.Factory(_default_endpoint, takes_self=True), converter=_no_slash)
    prefix: str = "kyc-documents/"
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, production: bool = False) -> S3Settings | None:
        """``CRYPTOPAY_S3_*``; None without a bucket (documents then stay in the data directory)."""

        def get(name: str) -> str:
            return env.get(_PREFIX + name, "").strip()

        bucket = get("BUCKET")
        if not bucket:
            return None
        if not (3 <= len(bucket) <= 63 and set(bucket) <= _BUCKET_CHARS):
            raise InvalidInput(f"{_PREFIX}BUCKET must be an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
        missing = [_PREFIX + n for n in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY") if not get(n)]
        if missing:
            raise InvalidInput(f"missing S3 settings: {', '.join(missing)}")
        credentials = Credentials(get("ACCESS_KEY_ID"), get("SECRET_ACCESS_KEY"), get("SESSION_TOKEN") or None)
        settings = cls(bucket=bucket, region=get("REGION") or "us-east-1", credentials=credentials)
        if endpoint := get("ENDPOINT_URL"):
            settings = attrs.evolve(settings, endpoint_url=endpoint)
        scheme = urlsplit(settings.endpoint_url).scheme
        if scheme not in ("http", "https") or (production and scheme != "https"):
            raise InvalidInput(f"{_PREFIX}ENDPOINT_URL must be an https URL" + ("" if production else " (or http)"))
        return settings


class S3DocumentStore:
    """Blobs as objects ``{prefix}{key}`` of one bucket; keys are document ids, as in ``FileDocumentStore``."""

    def __init__(self, settings: S3Settings, client: httpx.Client | None = None) -> None:
        import httpx

        self._settings = settings
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)

    def put(self, key: str, blob: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(blob, usedforsecurity=False).digest()).decode()
        response = self._send("PUT", key, body=blob, extra={"content-md5": md5})
        if response.status_code != 200:
            raise _failure(response, f"storing {key}")

    def get(self, key: str) -> bytes:
        response = self._send("GET", key)
        if response.status_code == 200:
            return response.content
        if response.status_code == 404 and _code(response) == "NoSuchKey":
            raise NotFound(f"no document {key}")
        raise _failure(response, f"reading {key}")

    def delete(self, key: str) -> None:
        response = self._send("DELETE", key)
        if response.status_code not in (200, 204) and _code(response) != "NoSuchKey":
            raise _failure(response, f"deleting {key}")

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """Every stored key with its last change (``ListObjectsV2``, a page of 1,000 at a time)."""
        token: str | None = None
        while True:
            query: list[tuple[str, str | int | float | bool | None]] = [
                ("list-type", "2"),
                ("prefix", self._settings.prefix),
            ]
            if token:
                query.append(("continuation-token", token))
            response = self._send("GET", None, query=query)
            if response.status_code != 200:
                raise _failure(response, "listing documents")
            page, token = _listing(response.content, self._settings.prefix)
            yield from page
            if token is None:
                return

    def close(self) -> None:
        self._client.close()

    def _send(
        self,
        method: str,
        key: str | None,
        *,
        body: bytes = b"",
        extra: Mapping[str, str] | None = None,
        query: list[tuple[str, str | int | float | bool | None]] | None = None,
    ) -> httpx.Response:
        s = self._settings
        path = f"/{s.bucket}" if key is None else f"/{s.bucket}/{s.prefix}{check_key(key)}"
        base = urlsplit(s.endpoint_url)
        url = f"{base.scheme}://{base.netloc}{encode_path(base.path + path)}"
        headers = {
            "x-amz-date": amz_date(datetime.now(UTC)),
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
            **(extra or {}),
        }
        if s.credentials.session_token:
            headers["x-amz-security-token"] = s.credentials.session_token
        request = self._client.build_request(method, url, params=query, content=body or None, headers=headers)
        signed = {name: request.headers[name] for name in ("host", *headers)}
        raw_path, _, raw_query = request.url.raw_path.decode().partition("?")
        what = SignedRequest(
            method, raw_path, parse_qsl(raw_query, keep_blank_values=True), signed, signed["x-amz-content-sha256"]
        )
        request.headers["authorization"] = authorization(what, s.credentials, region=s.region)
        import httpx

        try:
            return self._client.send(request)
        except httpx.HTTPError as error:
            raise Unavailable(f"the document store could not be reached ({type(error).__name__})") from None


def _code(response: httpx.Response) -> str:
    """The S3 error ``<Code>`` of an answer (empty when the body is not an S3 error document)."""
    try:
        root = ET.fromstring(response.content)  # noqa: S314 (our own store's answer, small; no DTD is processed)
    except ET.ParseError:
        return ""
    return (root.findtext("Code") or "") if root.tag == "Error" else ""


def _failure(response: httpx.Response, doing: str) -> Unavailable:
    code = _code(response) or "no S3 error code"
    return Unavailable(f"the document store refused {doing} (HTTP {response.status_code}, {code})")


_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _listing(content: bytes, prefix: str) -> tuple[list[tuple[str, datetime]], str | None]:
    root = ET.fromstring(content)  # noqa: S314 (our own store's answer; no DTD is processed)
    page = []
    for item in root.iter(f"{_NS}Contents"):
        key = item.findtext(f"{_NS}Key") or ""
        modified = item.findtext(f"{_NS}LastModified") or ""
        if key.startswith(prefix):
            page.append((key[len(prefix) :], _when(modified)))
    truncated = (root.findtext(f"{_NS}IsTruncated") or "false") == "true"
    return page, (root.findtext(f"{_NS}NextContinuationToken") if truncated else None)


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return parsedate_to_datetime(text)
