"""Issue 18 #1/#4: text with NUL or a lone surrogate is the same 422 on SQLite and PostgreSQL, and stores nothing;
review G8: so is text with a line separator or an invisible character (a zero-width space, a tag character)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, ready
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, SETTLEMENT, AuthActions, database_env, fast_hasher, make_app

BAD = ["a\x00b", "\ud800", "a\u2028b", "a\u200bb", "a\U000e0041b"]


@pytest.fixture(params=["sqlite", "postgres"])
def sql_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FlaskClient, AuthActions]]:
    """The app over the root's real SQL services, on SQLite or a fresh PostgreSQL database."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    with database_env(request, env, "cryptopay_http_text") as settings:
        yield from _client(settings)


def _client(env: dict[str, str]) -> Iterator[tuple[FlaskClient, AuthActions]]:
    root = build(RootSettings.from_env(env))
    try:
        app = make_app(attrs.evolve(root, password_hasher=ready(fast_hasher())))
        client = app.test_client()
        yield client, AuthActions(app, client)
    finally:
        root.close()


def _refused(response: Any) -> None:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True))
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("bad", BAD)
def test_register_and_login_with_invalid_text_are_422_and_store_no_user(sql_client, bad):
    """An email with a NUL or a surrogate neither registers nor logs in, on both databases."""
    client, _ = sql_client
    email = f"duka{bad}@example.co.ke"
    _refused(client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "role": "merchant"}))
    _refused(client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}))
    clean = client.post("/v1/auth/register", json={"email": "duka@example.co.ke", "password": PASSWORD})
    assert clean.status_code == 202


@pytest.mark.parametrize("bad", BAD)
def test_names_descriptions_urls_and_path_ids_with_invalid_text_are_422(sql_client, bad):
    """Business name, API key name, webhook URL and description and a path id: 422, nothing stored."""
    client, auth = sql_client
    headers, merchant_id = auth.merchant()
    headers = auth.stepped_up(headers)  # keys and webhook endpoints need a step-up before their input is read
    _refused(client.post("/v1/merchants", json={"business_name": f"D{bad}", "settlement": SETTLEMENT}, headers=headers))
    _refused(client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": f"D{bad}"}, headers=headers))
    keys = f"/v1/merchants/{merchant_id}/api-keys"
    _refused(client.post(keys, json={"name": f"k{bad}", "scopes": ["invoices:read"]}, headers=headers))
    hooks = "/v1/webhook-endpoints"
    _refused(client.post(hooks, json={"url": "https://shop.example/h", "description": bad}, headers=headers))
    _refused(client.post(hooks, json={"url": f"https://shop.example/{bad}"}, headers=headers))
    _refused(client.get("/v1/invoices/inv%00", headers=headers))
    _refused(client.get("/v1/merchants/m%00", headers=headers))
    assert client.get(keys, headers=headers).json["data"] == []
    assert client.get(hooks, headers=headers).json["data"] == []
    assert client.get(f"/v1/merchants/{merchant_id}", headers=headers).json["business_name"] == "Duka Ltd"


def test_an_invisible_character_in_a_business_name_is_a_422_naming_the_field(sql_client):
    """The problem says which field and why (review G8: "Shop\u2028Bcc: ..." and "KPLC\u200b" were 201)."""
    client, auth = sql_client
    headers, merchant_id = auth.merchant()
    for name, why in (("Shop\u2028Bcc: x@evil.example", "separators"), ("KP\u200bLC", "invisible characters")):
        refused = client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": name}, headers=headers)
        _refused(refused)
        assert [e["field"] for e in refused.json["errors"]] == ["business_name"], refused.json
        assert why in refused.json["errors"][0]["detail"], refused.json


# a password pasted from a password manager or a document: a zero-width space, a soft hyphen, a non-joiner, a BOM,
# a private-use character and a right-to-left override, none of which a name or id may hold
ODD_PASSWORD = "correct\u200bhorse\u00adbattery\u200cstaple\ufeff\ue000\u202e"


def test_a_password_with_invisible_characters_registers_logs_in_and_steps_up(sql_client):
    """A password is never shown, so any character but a control is its owner's choice (the text class SECRET): it
    registers, logs in and steps up exactly as typed; the same letters without the invisible ones are wrong."""
    client, auth = sql_client
    auth.register("odd@example.co.ke", password=ODD_PASSWORD)
    login = client.post("/v1/auth/login", json={"email": "odd@example.co.ke", "password": ODD_PASSWORD})
    assert login.status_code == 200, login.json
    visible = "".join(ch for ch in ODD_PASSWORD if ch.isascii())
    wrong = client.post("/v1/auth/login", json={"email": "odd@example.co.ke", "password": visible})
    assert wrong.status_code == 401, wrong.json
    auth.stepped_up({"Authorization": f"Bearer {login.json['access_token']}"}, password=ODD_PASSWORD)


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x85", "\n"])
def test_a_password_with_a_control_character_is_still_a_422_naming_the_password(sql_client, control):
    client, _ = sql_client
    body = {"email": "ctl@example.co.ke", "password": f"correct horse{control}battery staple"}
    refused = client.post("/v1/auth/register", json=body)
    _refused(refused)
    assert [e["field"] for e in refused.json["errors"]] == ["password"], refused.json
    assert "control characters" in refused.json["errors"][0]["detail"]
    assert client.post("/v1/auth/login", json=body).status_code == 422
