"""Security review regressions (#12): sessions end at once, roles reload, step-up, least privilege, backoff, audit."""

from __future__ import annotations

from cryptopay.core.identity import Role, UserAdmin

from tests.integration.http.http_support import PASSWORD, SETTLEMENT, bearer


def _actions(services) -> list[str]:
    return [record.action for record in services.audit.records()]


def _session(auth, email: str, role: str = "personal") -> dict:
    auth.register(email, role)
    return auth.login(email)


def test_logout_ends_the_access_token_at_once(client, auth):
    """After logout the access token of that login is refused immediately, not when it expires."""
    session = _session(auth, "logout@example.co.ke")
    headers = bearer(session["access_token"])
    assert client.get("/v1/me", headers=headers).status_code == 200
    assert client.post("/v1/auth/logout", json={"refresh_token": session["refresh_token"]}).status_code == 204
    refused = client.get("/v1/me", headers=headers)
    assert refused.status_code == 401 and "ended" in refused.json["detail"]


def test_a_reused_refresh_token_ends_the_family_access_tokens_at_once(client, auth, services):
    """Reusing a rotated refresh token revokes the family, and its live access token stops working at once."""
    first = _session(auth, "reuse@example.co.ke")
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    assert client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    assert client.get("/v1/me", headers=bearer(second["access_token"])).status_code == 401
    assert "auth.family_revoked" in _actions(services)


def test_the_role_is_reloaded_on_every_request(client, auth, app):
    """A merchant demoted to personal loses merchant routes at once, though its token still says merchant."""
    headers, merchant_id = auth.merchant()
    assert client.get(f"/v1/merchants/{merchant_id}", headers=headers).status_code == 200
    email = client.get("/v1/me", headers=headers).json["user"]["email"]
    accounts = app.extensions["cryptopay"].accounts
    admin = UserAdmin(accounts.users, accounts.hasher, accounts.audit, accounts.clock, accounts.ids, accounts.sessions)
    admin.set_role(email, Role.PERSONAL, actor="operator:test")
    assert client.get(f"/v1/merchants/{merchant_id}", headers=headers).status_code == 403
    assert client.get("/v1/me", headers=headers).json["role"] == "personal"


def test_refresh_tokens_have_an_absolute_lifetime(client, auth, clock):
    """Refreshing keeps a login alive only until 30 days after the login, however often it is refreshed."""
    token = _session(auth, "absolute@example.co.ke")["refresh_token"]
    for _ in range(3):
        clock.advance(days=10)
        answer = client.post("/v1/auth/refresh", json={"refresh_token": token})
        if answer.status_code != 200:
            break
        token = answer.json["refresh_token"]
    assert answer.status_code == 401 and "expired" in answer.json["detail"]


def test_an_invoices_read_key_cannot_read_the_merchant_profile(client, auth):
    """The merchant profile (with the payout phone) needs merchant:read; an invoices:read key gets 403."""
    headers, merchant_id = auth.merchant()
    reader = auth.api_key(headers, merchant_id, ["invoices:read"])
    refused = client.get(f"/v1/merchants/{merchant_id}", headers=bearer(reader))
    assert refused.status_code == 403 and SETTLEMENT["destination"][1:] not in refused.get_data(as_text=True)
    profile = auth.api_key(headers, merchant_id, ["merchant:read"])
    assert client.get(f"/v1/merchants/{merchant_id}", headers=bearer(profile)).status_code == 200


def test_a_refused_role_scope_or_key_is_audited_with_its_reason(client, auth, services):
    """A 403 for a missing role, scope or login kind is an ``access.refused`` record (route, method, reason) by the
    caller, so an officer can search for a key or user probing what it may not do; nothing else changes."""
    headers, merchant_id = auth.merchant()
    reader = auth.api_key(headers, merchant_id, ["invoices:read"])
    assert client.get(f"/v1/merchants/{merchant_id}", headers=bearer(reader)).status_code == 403
    assert client.get("/v1/fx/quote?pair=USDT/KES", headers=auth.user("personal")).status_code == 403
    refused = [r for r in services.audit.records() if r.action == "access.refused"]
    assert [(r.actor.split(":")[0], r.subject, dict(r.details)["method"]) for r in refused] == [
        ("api_key", "route:/v1/merchants/<merchant_id>", "GET"),
        ("user", "route:/v1/fx/quote", "GET"),
    ]
    assert "merchant:read" in dict(refused[0].details)["reason"]


def test_fx_quotes_are_not_for_personal_users_or_unscoped_keys(client, auth):
    """Locking (and storing) an FX quote needs a merchant/admin login or a key with fx:quote."""
    assert client.get("/v1/fx/quote?pair=USDT/KES", headers=auth.user("personal")).status_code == 403
    headers, merchant_id = auth.merchant()
    key = auth.api_key(headers, merchant_id, ["invoices:read"])
    assert client.get("/v1/fx/quote?pair=USDT/KES", headers=bearer(key)).status_code == 403


def test_a_destination_change_needs_a_step_up_is_audited_notified_and_cools_off(client, auth, services):
    """Changing the payout phone needs a fresh step-up; it is audited, the owner is told and payouts wait."""
    headers, merchant_id = auth.merchant()
    change = {"settlement": {**SETTLEMENT, "destination": "0799999999"}}
    refused = client.patch(f"/v1/merchants/{merchant_id}", json=change, headers=headers)
    assert refused.status_code == 403 and refused.json["type"].endswith("step_up_required")
    assert client.get(f"/v1/merchants/{merchant_id}", headers=headers).json["settlement"]["destination"].endswith("678")
    renamed = client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": "Duka Two"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json["destination_ready_at"] is None
    changed = client.patch(f"/v1/merchants/{merchant_id}", json=change, headers=auth.stepped_up(headers))
    assert changed.status_code == 200 and changed.json["destination_ready_at"] is not None
    assert "merchant.destination_changed" in _actions(services)
    email = client.get("/v1/me", headers=headers).json["user"]["email"]
    notice = services.notifier.sent_to(email)[-1]  # after the welcome email
    assert "ending 678" in notice.body and "ending 999" in notice.body


def test_a_step_up_is_bound_to_its_login_and_expires(client, auth, clock):
    """A step-up token from another login of the same user, or an old one, is refused."""
    auth.register("bound@example.co.ke", "merchant")
    first = bearer(auth.login("bound@example.co.ke")["access_token"])
    auth.prove_email("bound@example.co.ke", first)
    client.post("/v1/merchants", json={"business_name": "Bound", "settlement": SETTLEMENT}, headers=first)
    first = bearer(auth.login("bound@example.co.ke")["access_token"])
    other = bearer(auth.login("bound@example.co.ke")["access_token"])
    merchant_id = client.get("/v1/me", headers=first).json["merchant_id"]
    body, path = {"name": "k", "scopes": ["invoices:read"]}, f"/v1/merchants/{merchant_id}/api-keys"
    token = auth.stepped_up(other)["X-Step-Up-Token"]
    assert client.post(path, json=body, headers={**first, "X-Step-Up-Token": token}).status_code == 403
    stale = auth.stepped_up(first)
    clock.advance(minutes=6)
    assert client.post(path, json=body, headers=stale).status_code == 403
    wrong = client.post("/v1/auth/step-up", json={"password": "not the password"}, headers=first)
    assert wrong.status_code == 403


def test_api_keys_and_webhook_endpoints_need_a_step_up_and_are_audited(client, auth, services):
    """Creating an API key without a step-up is a 403; creating and revoking keys leave audit records."""
    headers, merchant_id = auth.merchant()
    path = f"/v1/merchants/{merchant_id}/api-keys"
    refused = client.post(path, json={"name": "k", "scopes": ["invoices:read"]}, headers=headers)
    assert refused.status_code == 403
    secret = auth.api_key(headers, merchant_id, ["invoices:read"])
    key_id = secret.split(".")[0].removeprefix("cp_")
    assert client.delete(f"{path}/{key_id}", headers=headers).status_code == 204
    assert {"api_key.created", "api_key.revoked"} <= set(_actions(services))
    assert client.post("/v1/webhook-endpoints", json={"url": "https://x.example/h"}, headers=headers).status_code == 403


def test_logins_are_throttled_per_account_whatever_the_address(client, auth, app):
    """Password guesses against one account from many addresses hit a per-account limit (429)."""
    auth.register("target@example.co.ke")
    limit = app.extensions["cryptopay"].settings.login_account_limit
    answers = [
        client.post(
            "/v1/auth/login",
            json={"email": "target@example.co.ke", "password": f"guess-number-{n}"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n}"},
        ).status_code
        for n in range(limit + 1)
    ]
    assert answers[:limit] == [401] * limit and answers[limit] == 429


def test_security_events_are_audited(client, auth, services):
    """Registration (and its email-proof link), a failed and a successful login and a logout each leave an audit
    record."""
    auth.register("audited@example.co.ke")
    client.post("/v1/auth/login", json={"email": "audited@example.co.ke", "password": "x" * 12})
    session = auth.login("audited@example.co.ke")
    client.post("/v1/auth/logout", json={"refresh_token": session["refresh_token"]})
    expected = ["auth.register", "auth.email_proof_sent", "auth.login_failed", "auth.login", "auth.logout"]
    assert _actions(services) == expected
    assert all(PASSWORD not in str(record) for record in services.audit.records())


def test_every_change_an_admin_makes_is_audited(client, auth, services):
    """An admin's successful write through the API (here a merchant rename) leaves an admin.request record."""
    _, merchant_id = auth.merchant()
    admin = auth.user("admin")
    renamed = client.patch(f"/v1/merchants/{merchant_id}", json={"business_name": "Renamed"}, headers=admin)
    assert renamed.status_code == 200
    routes = [r.subject for r in services.audit.records() if r.action == "admin.request"]
    assert "route:/v1/merchants/<merchant_id>" in routes


def test_a_logout_in_one_api_process_ends_the_session_in_another_at_once(services, redis_url):
    """Two API processes sharing a Redis epoch: a logout through one is refused by the other on the next request."""
    import uuid

    import attrs
    import redis
    from cryptopay.adapters.bootstrap import ready
    from cryptopay.adapters.cache import RedisEpoch

    from tests.integration.http.http_support import AuthActions, make_app

    epoch = RedisEpoch(redis.Redis.from_url(redis_url), key=f"test:session-epoch:{uuid.uuid4().hex}")
    shared = attrs.evolve(services, session_epoch=ready(epoch))
    first, second = make_app(shared), make_app(shared)  # one runtime (and session cache) each
    auth = AuthActions(first, first.test_client())
    session = _session(auth, "two@example.co.ke")
    headers = bearer(session["access_token"])
    other = second.test_client()
    assert other.get("/v1/me", headers=headers).status_code == 200  # cached in the second process now
    assert (
        first.test_client().post("/v1/auth/logout", json={"refresh_token": session["refresh_token"]}).status_code == 204
    )
    assert other.get("/v1/me", headers=headers).status_code == 401
