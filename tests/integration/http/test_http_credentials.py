"""Issue 18 #9/#10: 401s carry WWW-Authenticate, and any invalid credential presented makes the request a 401."""

from __future__ import annotations

import pytest


def test_every_401_carries_a_www_authenticate_challenge(client):
    """A missing and a wrong credential both answer 401 with a Bearer challenge (RFC 9110)."""
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"X-Api-Key": "cp_x.y"}):
        response = client.get("/v1/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("junk", ["Basic dXNlcjpwYXNz", "junk", "", "Bearer ", "Bearer not-a-token"])
def test_a_junk_authorization_header_beside_a_valid_api_key_is_401(client, auth, junk):
    """With a valid X-Api-Key, a malformed or wrong Authorization header is not ignored."""
    headers, merchant_id = auth.merchant()
    secret = auth.api_key(headers, merchant_id, ["invoices:read"])
    assert client.get("/v1/probe/invoices", headers={"X-Api-Key": secret}).status_code == 200
    response = client.get("/v1/probe/invoices", headers={"X-Api-Key": secret, "Authorization": junk})
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_an_empty_api_key_header_beside_a_valid_token_is_401(client, auth):
    """A valid access token does not excuse an empty X-Api-Key."""
    headers, _ = auth.merchant()
    assert client.get("/v1/probe/invoices", headers=headers).status_code == 200
    assert client.get("/v1/probe/invoices", headers={**headers, "X-Api-Key": ""}).status_code == 401


def test_two_different_valid_credentials_are_401(client, auth):
    """A token and an API key naming different callers are ambiguous, so refused."""
    headers, merchant_id = auth.merchant()
    secret = auth.api_key(headers, merchant_id, ["invoices:read"])
    both = {**headers, "X-Api-Key": secret}
    assert client.get("/v1/probe/invoices", headers=both).status_code == 401
    same = {"Authorization": f"Bearer {secret}", "X-Api-Key": secret}
    assert client.get("/v1/probe/invoices", headers=same).status_code == 200
