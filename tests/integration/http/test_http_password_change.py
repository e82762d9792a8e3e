"""R9-7: a user changes its password over the API (every login of the account ends) and signs out everywhere."""

from __future__ import annotations

from tests.integration.http.http_support import PASSWORD, bearer

NEW = "another long passphrase"


def _actions(services) -> list[str]:
    return [record.action for record in services.audit.records()]


def test_a_password_change_ends_every_login_and_the_new_password_works(client, auth, services):
    auth.register("change@example.co.ke", "merchant")
    this, other = auth.login("change@example.co.ke"), auth.login("change@example.co.ke")
    body = {"current_password": PASSWORD, "new_password": NEW}
    answer = client.post("/v1/auth/password", json=body, headers=bearer(this["access_token"]))
    assert answer.status_code == 204
    for session in (this, other):
        assert client.get("/v1/me", headers=bearer(session["access_token"])).status_code == 401
        refreshed = client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert refreshed.status_code == 401
    assert (
        client.post("/v1/auth/login", json={"email": "change@example.co.ke", "password": PASSWORD}).status_code == 401
    )
    auth.login("change@example.co.ke", NEW)
    assert {"auth.password_changed", "auth.sessions_ended"} <= set(_actions(services))


def test_a_wrong_current_password_or_a_weak_new_one_changes_nothing(client, auth, services):
    auth.register("keep@example.co.ke")
    session = auth.login("keep@example.co.ke")
    headers = bearer(session["access_token"])
    wrong = client.post(
        "/v1/auth/password", json={"current_password": "not it at all", "new_password": NEW}, headers=headers
    )
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    assert "auth.password_change_failed" in _actions(services)
    weak = client.post(
        "/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    assert weak.status_code == 422 and weak.headers["content-type"] == "application/problem+json"
    same = client.post(
        "/v1/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD}, headers=headers
    )
    assert same.status_code == 422
    assert client.get("/v1/me", headers=headers).status_code == 200  # the login goes on
    auth.login("keep@example.co.ke")  # the password is unchanged
    assert "auth.password_changed" not in _actions(services)


def test_an_api_key_cannot_change_a_password_or_sign_out(client, auth):
    headers, merchant_id = auth.merchant()
    key = bearer(auth.api_key(headers, merchant_id, ["invoices:read"]))
    body = {"current_password": PASSWORD, "new_password": NEW}
    assert client.post("/v1/auth/password", json=body, headers=key).status_code == 403
    assert client.post("/v1/auth/logout-everywhere", headers=key).status_code == 403
    assert client.get("/v1/me", headers=headers).status_code == 200


def test_sign_out_everywhere_ends_every_login_of_the_account_only(client, auth, services):
    auth.register("everywhere@example.co.ke")
    auth.register("bystander@example.co.ke")
    this, other = auth.login("everywhere@example.co.ke"), auth.login("everywhere@example.co.ke")
    bystander = bearer(auth.login("bystander@example.co.ke")["access_token"])
    assert client.post("/v1/auth/logout-everywhere", headers=bearer(this["access_token"])).status_code == 204
    for session in (this, other):
        assert client.get("/v1/me", headers=bearer(session["access_token"])).status_code == 401
        assert client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code == 401
    assert client.get("/v1/me", headers=bystander).status_code == 200
    ended = [r for r in services.audit.records() if r.action == "auth.sessions_ended"]
    assert dict(ended[-1].details)["reason"] == "signed out everywhere"
    auth.login("everywhere@example.co.ke")  # the password still works


def test_both_operations_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json["paths"]
    assert "requestBody" in paths["/v1/auth/password"]["post"]
    assert "204" in paths["/v1/auth/logout-everywhere"]["post"]["responses"]
