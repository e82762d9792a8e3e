"""The S3 document store against the sandbox's S3 simulator: what S3 refuses is refused, and said without secrets."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import httpx
import pytest
from cryptopay.adapters.documents.s3 import S3DocumentStore, S3Settings
from cryptopay.adapters.documents.sigv4 import EMPTY_SHA256, SignedRequest, amz_date, authorization
from cryptopay.core.errors import InvalidInput, Unavailable
from cryptopay.sandbox.s3 import SANDBOX_BUCKET

from tests.support.s3 import s3_settings, s3_store


def test_objects_land_under_the_prefix_in_the_bucket():
    """A put is one object ``kyc-documents/<key>`` whose ETag is the body's MD5 (S3 checked ``Content-MD5``)."""
    with s3_store() as (store, state):
        store.put("kyd_1", b"sealed blob")
        stored = state.buckets[SANDBOX_BUCKET]["kyc-documents/kyd_1"]
        assert stored.body == b"sealed blob"
        assert stored.etag == hashlib.md5(b"sealed blob", usedforsecurity=False).hexdigest()


def test_a_wrong_secret_is_refused_as_s3_refuses_it():
    """SignatureDoesNotMatch becomes Unavailable naming the S3 code, never the secret; nothing is stored."""
    with s3_store() as (good, state):
        bad = S3DocumentStore(s3_settings(good._settings.endpoint_url, secret="not-the-secret"))
        with pytest.raises(Unavailable, match="SignatureDoesNotMatch") as raised:
            bad.put("kyd_1", b"x")
        assert "not-the-secret" not in str(raised.value)
        assert state.buckets[SANDBOX_BUCKET] == {}


def test_another_region_is_a_malformed_authorization():
    """A scope naming the wrong region is refused before the signature is checked."""
    with s3_store(region="eu-west-1") as (store, _state), pytest.raises(Unavailable, match="AuthorizationHeader"):
        store.get("kyd_1")


def test_a_missing_bucket_and_an_outage_are_unavailable():
    """NoSuchBucket and a 500 InternalError: Unavailable, nothing stored."""
    with s3_store(bucket="no-such-bucket") as (store, _state), pytest.raises(Unavailable, match="NoSuchBucket"):
        store.put("kyd_1", b"x")
    with s3_store() as (store, state):
        state.failures_left = 1
        with pytest.raises(Unavailable, match="InternalError"):
            store.put("kyd_1", b"x")
        assert state.buckets[SANDBOX_BUCKET] == {}


def test_an_unreachable_store_is_unavailable():
    """No server at the endpoint: Unavailable."""
    with s3_store() as (store, _state):
        url = store._settings.endpoint_url
    with pytest.raises(Unavailable, match="could not be reached"):
        S3DocumentStore(s3_settings(url, timeout_seconds=1.0)).get("kyd_1")


def test_the_simulator_checks_the_body_against_its_signed_hash():
    """A request whose body is not what was signed: 400 XAmzContentSHA256Mismatch, in S3's XML."""
    with s3_store() as (store, state):
        url = f"{store._settings.endpoint_url}/{SANDBOX_BUCKET}/kyc-documents/kyd_1"
        host = httpx.URL(url).netloc.decode()
        headers = {
            "host": host,
            "x-amz-date": amz_date(datetime.now(UTC)),
            "x-amz-content-sha256": EMPTY_SHA256,
        }
        signed = SignedRequest("PUT", httpx.URL(url).raw_path.decode(), (), headers, EMPTY_SHA256)
        proof = authorization(signed, store._settings.credentials, region=store._settings.region)
        answer = httpx.put(url, content=b"tampered", headers={**headers, "authorization": proof})
        assert answer.status_code == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in answer.content
        assert state.buckets[SANDBOX_BUCKET] == {}


def test_an_unsigned_request_is_access_denied():
    """No Authorization header: 403 AccessDenied."""
    with s3_store() as (store, _state):
        answer = httpx.get(f"{store._settings.endpoint_url}/{SANDBOX_BUCKET}/kyc-documents/kyd_1")
        assert answer.status_code == 403 and b"<Code>AccessDenied</Code>" in answer.content


def test_listing_pages_through_many_objects():
    """ListObjectsV2 continuation tokens: every key comes back once."""
    with s3_store() as (store, _state):
        original = store._send

        def small_pages(method, key, **kw):  # the simulator caps pages at max-keys: ask for 2 at a time
            if key is None:
                kw["query"] = [*kw.get("query", []), ("max-keys", "2")]
            return original(method, key, **kw)

        store._send = small_pages
        for index in range(5):
            store.put(f"kyd_{index}", b"x")
        assert [key for key, _ in store.stored()] == [f"kyd_{i}" for i in range(5)]


def test_settings_read_the_environment_and_hide_the_secret():
    """CRYPTOPAY_S3_*: no bucket, no S3; a bucket needs both keys; production needs https."""
    assert S3Settings.from_env({}) is None
    env = {
        "CRYPTOPAY_S3_BUCKET": "kyc-docs",
        "CRYPTOPAY_S3_ACCESS_KEY_ID": "AKIA1",
        "CRYPTOPAY_S3_SECRET_ACCESS_KEY": "very-secret",
        "CRYPTOPAY_S3_REGION": "af-south-1",
    }
    settings = S3Settings.from_env(env)
    assert settings.endpoint_url == "https://s3.af-south-1.amazonaws.com" and "very-secret" not in repr(settings)
    with pytest.raises(InvalidInput, match="SECRET_ACCESS_KEY"):
        S3Settings.from_env({**env, "CRYPTOPAY_S3_SECRET_ACCESS_KEY": ""})
    with pytest.raises(InvalidInput, match="BUCKET"):
        S3Settings.from_env({**env, "CRYPTOPAY_S3_BUCKET": "Not_A_Bucket"})
    with pytest.raises(InvalidInput, match="https"):
        S3Settings.from_env({**env, "CRYPTOPAY_S3_ENDPOINT_URL": "http://minio.internal:9000"}, production=True)
