"""The SigV4 signer against AWS's published vectors: the SigV4 test suite (service ``service``, 2015-08-30) and the
S3 API reference's examples (bucket ``examplebucket``, 2013-05-24)."""

from __future__ import annotations

import hashlib

import pytest
from cryptopay.adapters.documents.sigv4 import (
    EMPTY_SHA256,
    Credentials,
    SignedRequest,
    authorization,
    canonical_request,
    encode_path,
    signing_key,
)

SUITE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
S3 = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
SUITE_HEADERS = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
S3_HOST = "examplebucket.s3.amazonaws.com"
S3_DATE = "20130524T000000Z"


def _suite(method: str, query: tuple[tuple[str, str], ...] = ()) -> str:
    request = SignedRequest(method, "/", query, SUITE_HEADERS, EMPTY_SHA256)
    return authorization(request, SUITE, region="us-east-1", service="service")


@pytest.mark.parametrize(
    ("name", "method", "query", "expected"),
    [
        ("get-vanilla", "GET", (), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (
            "get-vanilla-query-order-key-case",
            "GET",
            (("Param2", "value2"), ("Param1", "value1")),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        ("post-vanilla", "POST", (), "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ],
)
def test_the_sigv4_test_suite_vectors(name, method, query, expected):
    """Each published request signs to AWS's published Authorization header."""
    assert _suite(method, query) == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={expected}"
    )


def test_the_signing_key_is_the_published_one():
    """The HMAC chain of the suite's secret, day, region and service."""
    key = signing_key(SUITE.secret_access_key, "20150830", "us-east-1", "service")
    assert key.hex() == "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"


def test_s3s_get_object_example():
    """GET /test.txt with a Range header (empty payload hash signed)."""
    headers = {"Host": S3_HOST, "Range": "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": S3_DATE}
    signed = authorization(SignedRequest("GET", "/test.txt", (), headers, EMPTY_SHA256), S3, region="us-east-1")
    assert signed.endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_s3s_put_object_example_encodes_the_key_once():
    """PUT /test$file.text: the path goes out as /test%24file.text and the body's hash is signed."""
    body = b"Welcome to Amazon S3."
    digest = hashlib.sha256(body).hexdigest()
    headers = {
        "Date": "Fri, 24 May 2013 00:00:00 GMT",
        "Host": S3_HOST,
        "x-amz-content-sha256": digest,
        "x-amz-date": S3_DATE,
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
    }
    path = encode_path("/test$file.text")
    assert path == "/test%24file.text"
    signed = authorization(SignedRequest("PUT", path, (), headers, digest), S3, region="us-east-1")
    assert signed.startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ")
    assert signed.endswith("Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ((("lifecycle", ""),), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ((("max-keys", "2"), ("prefix", "J")), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ],
)
def test_s3s_bucket_examples_sort_and_encode_the_query(query, expected):
    """GET ?lifecycle (a parameter without a value) and GET ?max-keys=2&prefix=J (sorted by name)."""
    headers = {"Host": S3_HOST, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": S3_DATE}
    signed = authorization(SignedRequest("GET", "/", query, headers, EMPTY_SHA256), S3, region="us-east-1")
    assert signed.endswith(f"Signature={expected}")


def test_header_values_are_trimmed_and_names_lowered():
    """Canonical headers: lower-case names, sorted, inner runs of spaces collapsed."""
    canonical, signed = canonical_request(SignedRequest("GET", "/", (), {"X-B": "  a   b ", "Host": "h"}, EMPTY_SHA256))
    assert signed == "host;x-b" and "host:h\nx-b:a b\n" in canonical


def test_the_secret_never_shows():
    """Neither the secret nor the session token is in a repr."""
    shown = repr(Credentials("AKID", "top-secret", "session-secret"))
    assert "top-secret" not in shown and "session-secret" not in shown and "AKID" in shown
