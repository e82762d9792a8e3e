"""Identity over HTTP: register, login, refresh rotation with reuse detection, logout, me, cookie sessions + CSRF."""

from __future__ import annotations

import re

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import hash_secret
from cryptopay.core.identity.service import EMAIL_RULE, valid_email
from cryptopay.core.identity.weak_passwords import WeakPassword
from cryptopay_http import ApiSettings

from tests.integration.http.http_support import PASSWORD, bearer


def test_register_answers_check_your_email_and_shows_no_password(client, services):
    """Registering creates a user (it logs in at once) and answers 202 "check your email" with no password or
    hash; the new address gets an email with its proof link and its "this wasn't me" release link."""
    response = client.post("/v1/auth/register", json={"email": "Wanjiku@Example.co.ke", "password": PASSWORD})
    assert response.status_code == 202
    assert response.json == {"email": "wanjiku@example.co.ke", "detail": response.json["detail"]}
    assert "check your email" in response.json["detail"]
    assert "password" not in response.get_data(as_text=True)
    assert services.users.by_email("wanjiku@example.co.ke").role.value == "personal"
    [welcome] = services.notifier.sent_to("wanjiku@example.co.ke")
    assert "/verify-email#token=usr_" in welcome.body and "/verify-email/release#token=usr_" in welcome.body
    assert (
        client.post("/v1/auth/login", json={"email": "wanjiku@example.co.ke", "password": PASSWORD}).status_code == 200
    )


def test_register_does_not_tell_whether_an_email_has_an_account(client, auth, services):
    """Review G3: a registered email gets the same 202 and body as a new one (in any case), no second account and
    no password change; its owner is emailed that someone tried (audited); self-registering as admin is a 422."""
    auth.register("amina@example.co.ke")
    new = client.post("/v1/auth/register", json={"email": "fresh@example.co.ke", "password": PASSWORD})
    again = client.post("/v1/auth/register", json={"email": "AMINA@example.co.ke", "password": "another passphrase"})
    assert (again.status_code, again.content_type) == (new.status_code, new.content_type) == (202, "application/json")
    assert again.json["detail"] == new.json["detail"] and again.json["email"] == "amina@example.co.ke"
    assert client.post("/v1/auth/login", json={"email": "amina@example.co.ke", "password": PASSWORD}).status_code == 200
    tried = services.notifier.sent_to("amina@example.co.ke")[-1]
    assert tried.subject == "Someone tried to register with your email" and "none was created" in tried.body
    owner = services.users.by_email("amina@example.co.ke")
    assert [r.subject for r in services.audit.records() if r.action == "auth.register_of_a_customer"] == [
        f"user:{owner.id}"
    ]
    admin = client.post("/v1/auth/register", json={"email": "x@example.co.ke", "password": PASSWORD, "role": "admin"})
    assert admin.status_code == 422
    assert [e["field"] for e in admin.json["errors"]] == ["role"] and "admin" in admin.json["detail"]


def test_registering_one_address_again_and_again_mails_it_at_most_the_cap_and_answers_alike(client, auth, services):
    """Review4 R14 (email bomb): fifteen registrations of an address that has an account in a row all answer the
    same 202, but its owner gets at most ``REGISTER_MAILS_PER_WINDOW`` "someone tried" emails a window (counted per
    address through the rate limiter, whatever the client's address); the ones past it are audited, not mailed."""
    from cryptopay.core.identity.registration import REGISTER_MAILS_PER_WINDOW

    auth.register("bomb@example.co.ke")
    before = len(services.notifier.sent_to("bomb@example.co.ke"))
    answers = set()
    for n in range(15):
        body = {"email": "Bomb@Example.co.ke", "password": f"another passphrase {n}"}
        answer = client.post("/v1/auth/register", json=body, environ_base={"REMOTE_ADDR": f"10.9.{n}.1"})
        answers.add((answer.status_code, answer.get_data(as_text=True)))
    assert len(answers) == 1 and next(iter(answers))[0] == 202
    mailed = services.notifier.sent_to("bomb@example.co.ke")[before:]
    assert 1 <= len(mailed) <= REGISTER_MAILS_PER_WINDOW < 15
    capped = [r for r in services.audit.records() if r.action == "auth.register_mail_capped"]
    assert len(capped) == 15 - len(mailed)


def test_reset_requests_mail_one_address_at_most_the_cap_and_answer_alike(client, auth, services):
    """Reviewer9 R9-8 (email bomb): reset requests for one address, with an account or without, answer the same
    202 every time, but the address gets at most ``RESET_MAILS_PER_WINDOW`` emails a window (counted per address
    through the rate limiter, whatever the client's address); the ones past it are audited, not mailed."""
    from cryptopay.core.identity.recovery import RESET_MAILS_PER_WINDOW

    auth.register("victim@example.co.ke")
    for address in ("victim@example.co.ke", "nobody-here@example.co.ke"):
        before = len(services.notifier.sent_to(address))
        capped_before = [r for r in services.audit.records() if r.action == "auth.password_reset_mail_capped"]
        answers = set()
        for n in range(8):
            answer = client.post(
                "/v1/auth/password-reset", json={"email": address}, environ_base={"REMOTE_ADDR": f"10.8.{n}.1"}
            )
            answers.add((answer.status_code, answer.get_data(as_text=True)))
        assert len(answers) == 1 and next(iter(answers))[0] == 202, answers
        mailed = services.notifier.sent_to(address)[before:]
        assert len(mailed) == RESET_MAILS_PER_WINDOW < 8
        capped = [r for r in services.audit.records() if r.action == "auth.password_reset_mail_capped"]
        assert len(capped) - len(capped_before) == 8 - RESET_MAILS_PER_WINDOW


def test_every_refused_role_gets_one_message_naming_only_the_self_registered_roles(client):
    """Review F4: "Merchant", "admin", "compliance" and "root" are refused by one rule on the role field, whose
    message (and the document's enum) offer only personal and merchant, never the internal roles."""
    details = set()
    for role in ("Merchant", "admin", "compliance", "root"):
        body = {"email": f"{role}@example.co.ke", "password": PASSWORD, "role": role}
        refused = client.post("/v1/auth/register", json=body)
        assert refused.status_code == 422 and [e["field"] for e in refused.json["errors"]] == ["role"]
        details.add(refused.json["errors"][0]["detail"].replace(repr(role), "ROLE"))
    assert details == {"ROLE is not one of: merchant, personal"}
    schema = client.get("/openapi.json").json["components"]["schemas"]["RegisterRequest"]
    assert schema["properties"]["role"]["enum"] == ["merchant", "personal"]
    made = client.post("/v1/auth/register", json={"email": "m@example.co.ke", "password": PASSWORD, "role": "merchant"})
    assert made.status_code == 202


def test_register_refuses_address_literals_single_labels_and_non_ascii(client, services):
    """Review H11: the one email rule (HTTP pattern and core) takes an ASCII address at a registrable domain name;
    an address literal, a single-label host, a numeric top label or a non-ASCII look-alike is a 422 naming
    ``email`` (an internationalised domain is taken in its xn-- form), and no account or welcome email is made."""
    for email in ("a@[127.0.0.1]", "dúka@example.co.ke", "a@dúka.co.ke", "a@localhost", "a@10.0.0.1", "a..b@x.co"):
        answer = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "role": "merchant"})
        assert answer.status_code == 422, email
        assert answer.json["errors"] == [{"field": "email", "detail": EMAIL_RULE}], email
        assert services.users.by_email(email.lower()) is None
    with pytest.raises(InvalidInput, match="xn--"):  # the core refuses it the same way (CLI, wallet sign-up)
        valid_email("a@[127.0.0.1]")
    made = client.post(
        "/v1/auth/register", json={"email": "a@xn--dka-kla.co.ke", "password": PASSWORD, "role": "merchant"}
    )
    assert made.status_code == 202


def test_register_reports_every_bad_field(client):
    """Wrongly typed and unknown fields are all reported in one 422; a malformed email names its field."""
    response = client.post("/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD})
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "email", "detail": EMAIL_RULE}]
    typed = client.post("/v1/auth/register", json={"email": 5, "password": 7, "colour": "red"})
    assert typed.status_code == 422
    assert {e["field"] for e in typed.json["errors"]} == {"email", "password", "colour"}


def test_login_with_a_wrong_password_or_unknown_email_is_the_same_401(client, auth):
    """Wrong password and unknown email give the same answer, so accounts cannot be enumerated."""
    auth.register("baraka@example.co.ke")
    wrong = client.post("/v1/auth/login", json={"email": "baraka@example.co.ke", "password": "x" * 12})
    unknown = client.post("/v1/auth/login", json={"email": "nobody@example.co.ke", "password": "x" * 12})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["detail"] == unknown.json["detail"]
    assert wrong.headers["Content-Type"] == "application/problem+json"


def test_login_gives_tokens_that_open_me(client, auth):
    """The access token from a login authenticates /v1/me as that user."""
    auth.register("chebet@example.co.ke", role="merchant")
    session = auth.login("chebet@example.co.ke")
    assert session["token_type"] == "Bearer" and session["expires_in"] == 900
    me = client.get("/v1/me", headers=bearer(session["access_token"]))
    assert me.status_code == 200
    assert me.json["kind"] == "user" and me.json["role"] == "merchant"
    assert me.json["user"]["email"] == "chebet@example.co.ke"


def test_me_refuses_missing_tampered_and_expired_tokens(client, auth, clock):
    """No token, a tampered token and an expired token are all 401."""
    auth.register("dede@example.co.ke")
    token = auth.login("dede@example.co.ke")["access_token"]
    assert client.get("/v1/me").status_code == 401
    head, body, sig = token.split(".")
    assert client.get("/v1/me", headers=bearer(f"{head}.{body}x.{sig}")).status_code == 401
    clock.advance(minutes=16)
    expired = client.get("/v1/me", headers=bearer(token))
    assert expired.status_code == 401
    assert "expired" in expired.json["detail"]


def test_refresh_rotates_the_token(client, auth):
    """A refresh gives a new refresh token and a working access token; the old refresh token is spent."""
    auth.register("esther@example.co.ke")
    first = auth.login("esther@example.co.ke")
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert client.get("/v1/me", headers=bearer(second.json["access_token"])).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client, auth):
    """Presenting a spent refresh token is treated as theft: it and its successor stop working."""
    auth.register("faith@example.co.ke")
    first = auth.login("faith@example.co.ke")
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    reuse = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert "used before" in reuse.json["detail"]
    successor = client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert successor.status_code == 401


def test_refresh_tokens_are_stored_hashed(auth, services):
    """Only a SHA-256 hash of a refresh token is kept."""
    auth.register("gathoni@example.co.ke")
    token = auth.login("gathoni@example.co.ke")["refresh_token"]
    stored = services.refresh_tokens.by_hash(hash_secret(token))
    assert stored is not None and token not in repr(stored) and stored.token_hash != token


def test_logout_revokes_the_refresh_token(client, auth):
    """After logout the refresh token no longer refreshes; other logins of the same user are unaffected."""
    auth.register("halima@example.co.ke")
    one, two = auth.login("halima@example.co.ke"), auth.login("halima@example.co.ke")
    assert client.post("/v1/auth/logout", json={"refresh_token": one["refresh_token"]}).status_code == 204
    assert client.post("/v1/auth/refresh", json={"refresh_token": one["refresh_token"]}).status_code == 401
    assert client.post("/v1/auth/refresh", json={"refresh_token": two["refresh_token"]}).status_code == 200


def test_cookie_session_refreshes_only_with_the_csrf_header(client, auth):
    """A web login puts the refresh token in an httpOnly cookie; refreshing by cookie needs the CSRF header."""
    auth.register("imani@example.co.ke")
    session = auth.login("imani@example.co.ke", cookie=True)
    assert session["refresh_token"] is None
    refresh_cookie = client.get_cookie("cp_refresh", path="/v1/auth")
    csrf = client.get_cookie("cp_csrf").value
    assert refresh_cookie.http_only and refresh_cookie.same_site == "Strict"
    assert client.post("/v1/auth/refresh").status_code == 403
    assert client.post("/v1/auth/refresh", headers={"X-CSRF-Token": "forged.value"}).status_code == 403
    ok = client.post("/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json["refresh_token"] is None
    assert client.get_cookie("cp_refresh", path="/v1/auth").value != refresh_cookie.value


def test_csrf_token_of_another_login_is_refused(client, auth, app):
    """A CSRF token minted for another login (e.g. a cookie planted by a sibling site) does not pass."""
    auth.register("jabali@example.co.ke")
    auth.login("jabali@example.co.ke", cookie=True)
    other_csrf = client.get_cookie("cp_csrf").value
    auth.login("jabali@example.co.ke", cookie=True)  # a new family replaces the refresh cookie
    client.set_cookie("cp_csrf", other_csrf)
    response = client.post("/v1/auth/refresh", headers={"X-CSRF-Token": other_csrf})
    assert response.status_code == 403


def test_cookie_logout_clears_the_cookies(client, auth):
    """Logging out by cookie (with CSRF) revokes the session and deletes both cookies."""
    auth.register("kamau@example.co.ke")
    auth.login("kamau@example.co.ke", cookie=True)
    csrf = client.get_cookie("cp_csrf").value
    assert client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get_cookie("cp_refresh", path="/v1/auth") is None
    assert client.post("/v1/auth/refresh", headers={"X-CSRF-Token": csrf}).status_code == 401


def test_session_cookies_are_secure_by_default(services):
    """With default settings the session cookies carry the Secure flag."""
    from tests.integration.http.http_support import AuthActions, make_app

    app = make_app(services, cookie_secure=True)
    helper = AuthActions(app, app.test_client())
    helper.register("lulu@example.co.ke")
    response = helper.client.post(
        "/v1/auth/login", json={"email": "lulu@example.co.ke", "password": PASSWORD, "cookie": True}
    )
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 2 and all("Secure" in c and "SameSite=Strict" in c for c in cookies)
    assert any(c.startswith("cp_refresh=") and "HttpOnly" in c and "Path=/v1/auth" in c for c in cookies)


def test_the_auth_rate_limits_are_documented_on_each_auth_operation(client):
    """Login, register, refresh, step-up and password reset state their per-address and per-account limits."""
    defaults = ApiSettings(token_secret="")
    per_ip = f"{defaults.auth_rate_limit} per minute per client address"
    per_account = (
        f"{defaults.login_account_limit} per {defaults.login_account_window_seconds // 60} minutes per account"
    )
    paths = client.get("/openapi.json").json["paths"]
    expected = {
        "/v1/auth/login": (per_ip, per_account),
        "/v1/auth/register": (per_ip,),
        "/v1/auth/refresh": (per_ip,),
        "/v1/auth/step-up": (per_account,),
        "/v1/auth/password-reset": (per_ip, per_account),
        "/v1/auth/password-reset/confirm": (per_ip,),
    }
    for path, phrases in expected.items():
        description = paths[path]["post"]["description"]
        assert all(phrase in description for phrase in phrases) and "429" in description, path


def test_trivially_weak_passwords_are_refused_with_a_specific_problem(client, auth, services):
    """Review G6: all one character, a sequence, a keyboard row, a repeated piece or a common password with digits
    around it are a 422 weak_password on the password field, at registration, change and reset alike."""
    for weak in ("111111111111", "123456789012", "aaaaaaaaaaaa", "qwertyuiopas", "passwordpassword", "Password2024!"):
        answer = client.post("/v1/auth/register", json={"email": "w@example.co.ke", "password": weak})
        assert answer.status_code == 422 and answer.content_type == "application/problem+json", weak
        assert answer.json["code"] == "weak_password" and answer.json["errors"][0]["field"] == "password", weak
    assert services.users.by_email("w@example.co.ke") is None
    auth.register("r@example.co.ke")
    assert client.post("/v1/auth/password-reset", json={"email": "r@example.co.ke"}).status_code == 202
    token = re.search(r"token=(\S+)", services.notifier.sent_to("r@example.co.ke")[-1].body).group(1)
    reset = client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": "zyxwvutsrqpo"})
    assert reset.status_code == 422 and reset.json["code"] == "weak_password", reset.json
    with pytest.raises(WeakPassword):  # a change (the portal's page) checks the same rule
        user = services.users.by_email("r@example.co.ke")
        auth.app.extensions["cryptopay"].accounts.change_password(user.id, PASSWORD, "letmein123456")
    assert (
        client.post("/v1/auth/register", json={"email": "w@example.co.ke", "password": "8#3!9@27^5&1"}).status_code
        == 202
    )


def test_registering_a_taken_address_while_the_limiter_s_redis_is_away_answers_as_a_new_one(app, auth, services):
    """lastread A5: the "someone tried" mail cap is counted in the rate limiter; with its Redis away (the real
    adapter, on a port nothing listens on) a taken address must not answer a 503 a new one never gets (an "account
    exists" oracle): its owner is not mailed this time and the answer is a new address's (None from the core)."""
    import attrs
    from cryptopay.adapters.ratelimit.redis import RedisRateLimiter
    from cryptopay.core.identity.model import Role
    from cryptopay_http.runtime import runtime

    auth.register("taken@example.co.ke")
    before = len(services.notifier.sent_to("taken@example.co.ke"))
    with app.app_context():
        away = RedisRateLimiter.from_url("redis://127.0.0.1:9/0")  # the discard port: nothing answers
        registrations = attrs.evolve(runtime().registrations, limiter=away)
        assert registrations.register("taken@example.co.ke", PASSWORD + " again", role=Role.MERCHANT) is None
    assert len(services.notifier.sent_to("taken@example.co.ke")) == before
