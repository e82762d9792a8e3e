"""Merchants and API keys over HTTP: roles, keys shown once and stored hashed, scopes, and tenant isolation."""

from __future__ import annotations

import pytest
from cryptopay.core.identity import hash_secret

from tests.integration.http.http_support import SETTLEMENT, bearer


def test_a_merchant_user_creates_and_reads_its_profile(client, auth):
    """A merchant user creates one profile with a normalised settlement destination and reads it back."""
    headers, merchant_id = auth.merchant("Mama Mboga Ltd")
    response = client.get(f"/v1/merchants/{merchant_id}", headers=headers)
    assert response.status_code == 200
    assert response.json["business_name"] == "Mama Mboga Ltd"
    assert response.json["settlement"] == {**SETTLEMENT, "destination": "254712345678", "minimum": None}
    again = client.post("/v1/merchants", json={"business_name": "Second", "settlement": SETTLEMENT}, headers=headers)
    assert again.status_code == 409
    assert client.get("/v1/me", headers=headers).json["merchant_id"] == merchant_id


def test_personal_users_cannot_create_merchants(client, auth):
    """A personal user gets 403 with a problem naming the needed role."""
    body = {"business_name": "Nope", "settlement": SETTLEMENT}
    response = client.post("/v1/merchants", json=body, headers=auth.user("personal"))
    assert response.status_code == 403
    assert response.json["code"] == "forbidden" and "merchant" in response.json["detail"]


def test_patch_validates_the_settlement_profile(client, auth):
    """A bad destination for the method is a 422 naming settlement.destination; a good one updates the profile."""
    headers, merchant_id = auth.merchant()
    bad = {"settlement": {"schedule": "weekly", "method": "mpesa_till", "destination": "12"}}
    response = client.patch(f"/v1/merchants/{merchant_id}", json=bad, headers=headers)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "settlement.destination"
    good = {
        "settlement": {
            "schedule": "weekly",
            "method": "mpesa_till",
            "destination": "123456",
            "minimum": {"amount": "500", "asset": "KES"},
        }
    }
    response = client.patch(f"/v1/merchants/{merchant_id}", json=good, headers=auth.stepped_up(headers))
    assert response.status_code == 200
    assert response.json["settlement"]["minimum"] == {"amount": "500.00", "asset": "KES"}


def test_amounts_given_as_json_numbers_are_refused(client, auth):
    """Money travels as strings: a JSON number for an amount is a 422, never silently converted."""
    headers, merchant_id = auth.merchant()
    body = {"settlement": {**SETTLEMENT, "minimum": {"amount": 500.5, "asset": "KES"}}}
    response = client.patch(f"/v1/merchants/{merchant_id}", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "settlement.minimum"


def test_api_key_secret_is_shown_once_and_stored_hashed(client, auth, services):
    """The key secret appears only in the creation response; listings show the prefix, the store a SHA-256 hash."""
    headers, merchant_id = auth.merchant()
    created = client.post(
        f"/v1/merchants/{merchant_id}/api-keys",
        json={"name": "till", "scopes": ["invoices:read"]},
        headers=auth.stepped_up(headers),
    )
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret, key = created.json["secret"], created.json["key"]
    assert secret.startswith(key["prefix"] + ".")
    listing = client.get(f"/v1/merchants/{merchant_id}/api-keys", headers=headers)
    assert listing.status_code == 200 and secret.split(".")[1] not in listing.get_data(as_text=True)
    assert listing.json["data"][0]["id"] == key["id"]
    stored = services.api_keys.get(key["id"])
    assert stored.secret_hash == hash_secret(secret.split(".", 1)[1])


def test_api_key_scopes_must_be_known(client, auth):
    """Unknown or empty scopes are a 422 on the scopes field."""
    headers, merchant_id = auth.merchant()
    for scopes in (["invoices:delete"], []):
        response = client.post(
            f"/v1/merchants/{merchant_id}/api-keys",
            json={"name": "x", "scopes": scopes},
            headers=auth.stepped_up(headers),
        )
        assert response.status_code == 422 and response.json["errors"][0]["field"] == "scopes"


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_api_keys_authenticate_and_scopes_are_enforced(client, auth, header):
    """A key works as Bearer or X-Api-Key; it reaches routes for its scopes and gets 403 elsewhere."""
    headers, merchant_id = auth.merchant()
    secret = auth.api_key(headers, merchant_id, ["invoices:read"])
    key_headers = bearer(secret) if header == "bearer" else {"X-Api-Key": secret}
    read = client.get("/v1/probe/invoices", headers=key_headers)
    assert read.status_code == 200 and read.json == {"merchant_id": merchant_id}
    write = client.post(
        "/v1/probe/payments",
        json={"amount": {"amount": "1", "asset": "KES"}, "reference": "r"},
        headers={**key_headers, "Idempotency-Key": "k1"},
    )
    assert write.status_code == 403 and "invoices:write" in write.json["detail"]
    me = client.get("/v1/me", headers=key_headers).json
    assert me["kind"] == "api_key" and me["scopes"] == ["invoices:read"]


def test_api_keys_cannot_manage_api_keys(client, auth):
    """An API key may not create more keys (user-only operation)."""
    headers, merchant_id = auth.merchant()
    secret = auth.api_key(headers, merchant_id, ["invoices:write"])
    response = client.post(
        f"/v1/merchants/{merchant_id}/api-keys",
        json={"name": "y", "scopes": ["invoices:write"]},
        headers=bearer(secret),
    )
    assert response.status_code == 403


def test_revoked_and_forged_api_keys_are_refused(client, auth):
    """After revocation the key gets 401; a key with a guessed secret gets 401 too."""
    headers, merchant_id = auth.merchant()
    secret = auth.api_key(headers, merchant_id, ["invoices:read"])
    prefix = secret.split(".")[0]
    assert client.get("/v1/probe/invoices", headers=bearer(prefix + ".guess")).status_code == 401
    key_id = prefix.removeprefix("cp_")
    assert client.delete(f"/v1/merchants/{merchant_id}/api-keys/{key_id}", headers=headers).status_code == 204
    assert client.get("/v1/probe/invoices", headers=bearer(secret)).status_code == 401


def test_personal_users_have_no_merchant_scopes(client, auth):
    """A personal user calling a scoped merchant route gets 403."""
    assert client.get("/v1/probe/invoices", headers=auth.user("personal")).status_code == 403


def test_tenant_isolation_on_every_merchant_endpoint(client, auth):
    """Merchant B (user or API key) gets the same 404 on each of A's endpoints as for a missing merchant."""
    a_headers, a_id = auth.merchant("A Ltd")
    b_headers, _ = auth.merchant("B Ltd")
    a_key = client.post(
        f"/v1/merchants/{a_id}/api-keys",
        json={"name": "a", "scopes": ["invoices:read"]},
        headers=auth.stepped_up(a_headers),
    ).json["key"]["id"]
    b_secret = auth.api_key(b_headers, _, ["merchant:read"])
    b_headers = auth.stepped_up(b_headers)
    requests = [
        ("get", f"/v1/merchants/{a_id}", None),
        ("patch", f"/v1/merchants/{a_id}", {"business_name": "Hijacked"}),
        ("post", f"/v1/merchants/{a_id}/api-keys", {"name": "evil", "scopes": ["invoices:read"]}),
        ("get", f"/v1/merchants/{a_id}/api-keys", None),
        ("delete", f"/v1/merchants/{a_id}/api-keys/{a_key}", None),
    ]
    for method, path, body in requests:
        response = getattr(client, method)(path, json=body, headers=b_headers)
        missing = getattr(client, method)(path.replace(a_id, "mer_999999"), json=body, headers=b_headers)
        assert response.status_code == 404, (method, path)
        assert response.json["detail"] == missing.json["detail"].replace("mer_999999", a_id)
    assert client.get(f"/v1/merchants/{a_id}", headers=bearer(b_secret)).status_code == 404
    assert client.get(f"/v1/merchants/{a_id}", headers=a_headers).json["business_name"] == "A Ltd"
    listing = client.get("/v1/merchants", headers=b_headers).json["data"]
    assert [m["business_name"] for m in listing] == ["B Ltd"]


def test_admins_see_every_tenant(client, auth):
    """An admin reads any merchant, lists them all and may revoke their keys."""
    _, a_id = auth.merchant("A Ltd")
    _, b_id = auth.merchant("B Ltd")
    admin = auth.user("admin")
    assert client.get(f"/v1/merchants/{a_id}", headers=admin).status_code == 200
    names = [m["business_name"] for m in client.get("/v1/merchants", headers=admin).json["data"]]
    assert names == ["A Ltd", "B Ltd"]
    assert client.get(f"/v1/merchants/{b_id}/api-keys", headers=admin).status_code == 200


def test_a_merchant_reads_only_its_own_facts_about_itself(client, auth):
    """Reading, listing and updating one's merchant profile shows no admin-only field (the owning user's id)."""
    headers, merchant_id = auth.merchant()
    expected = {"id", "business_name", "settlement", "created_at", "updated_at", "destination_ready_at"}
    one = client.get(f"/v1/merchants/{merchant_id}", headers=headers).json
    listed = client.get("/v1/merchants", headers=headers).json["data"]
    patched = client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": "Renamed"}, headers=headers).json
    assert set(one) == set(listed[0]) == set(patched) == expected
    schema = client.get("/openapi.json").json["components"]["schemas"]["MerchantView"]
    assert set(schema["properties"]) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Safaricom M-PESA",
        "S\u0430faricom",
        "KPLC Prepaid",
        "Cryptopay Support",
        "M-Pesa Agent 24",
        "\u039cpesa Shop",
        "\uff2d\uff30\uff25\uff33\uff21 Agent",  # review6 F1: fullwidth ＭＰＥＳＡ
        "\u216f-PESA Agent",  # Ⅿ, the Roman numeral
        "M-PE$A Agent",
    ],
)
def test_a_business_name_that_reads_as_a_reserved_brand_or_mixes_scripts_is_a_422(client, auth, name: str):
    """Review5 S5: the checkout says "Pay <business name>": the reserved brands (folded as usernames are) and a
    word mixing Latin with Cyrillic or Greek letters are a 422 on business_name, on create and on update; nothing
    changes. An ordinary name (and "Badminton Club": admin is a brand for usernames only) is taken."""
    headers, merchant_id = auth.merchant("Duka Ltd")
    refused = client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": name}, headers=headers)
    assert refused.status_code == 422, refused.json
    assert refused.json["code"] == "reserved_business_name" and refused.json["errors"][0]["field"] == "business_name"
    assert client.get(f"/v1/merchants/{merchant_id}", headers=headers).json["business_name"] == "Duka Ltd"
    other = auth.user("merchant")
    created = client.post("/v1/merchants", json={"business_name": name, "settlement": SETTLEMENT}, headers=other)
    assert created.status_code == 422, created.json
    good = client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": "Badminton Club"}, headers=headers)
    assert good.status_code == 200 and good.json["business_name"] == "Badminton Club"
