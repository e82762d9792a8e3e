"""The per-account limit counts failed password and code checks only (``limit_account``, ``account_check_passed``).

A person who logs in or steps up many times a window is never locked out; an attacker's failures still fill the
count. Only a whole login (the password, and the code when the account has a second factor) clears the failures
before it: a right password with a wrong or missing code is a failure, so knowing the password never lets anyone
alternate to keep guessing codes.
"""

from __future__ import annotations

from cryptopay.core.testing.identity import StdlibTotp

from tests.integration.http.http_support import PASSWORD, bearer


def _login(client, email: str, password: str = PASSWORD, n: int = 0, **extra: str) -> int:
    body = {"email": email, "password": password, **extra}
    return client.post("/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": f"10.1.0.{n % 250}"}).status_code


def test_logging_in_many_times_never_locks_the_account_but_failures_still_do(client, auth, app):
    auth.register("often@example.co.ke")
    limit = app.extensions["cryptopay"].settings.login_account_limit
    assert [_login(client, "often@example.co.ke", n=n) for n in range(3 * limit)] == [200] * (3 * limit)
    guesses = [_login(client, "often@example.co.ke", f"guess number {n}", n) for n in range(limit + 1)]
    assert guesses == [401] * limit + [429]
    assert _login(client, "often@example.co.ke") == 429  # the right password waits too once the count is full


def test_the_owner_s_login_clears_the_failures_before_it(client, auth, app):
    """Failures up to one short of the limit, the owner logs in: the attacker starts from nothing again, and
    still meets the limit after ``limit`` more failures."""
    auth.register("owner@example.co.ke")
    limit = app.extensions["cryptopay"].settings.login_account_limit
    assert {_login(client, "owner@example.co.ke", "wrong password", n) for n in range(limit - 1)} == {401}
    assert _login(client, "owner@example.co.ke") == 200
    guesses = [_login(client, "owner@example.co.ke", "wrong password", n) for n in range(limit + 1)]
    assert guesses == [401] * limit + [429]


def test_the_right_password_without_the_right_code_is_a_failure_and_clears_nothing(client, auth, app, services):
    """Someone who knows the password but not the second factor: each try counts, none clears the count."""
    auth.register("twofactor@example.co.ke")
    auth.enrol_totp(bearer(auth.login("twofactor@example.co.ke")["access_token"]))
    limit = app.extensions["cryptopay"].settings.login_account_limit
    tries = [_login(client, "twofactor@example.co.ke", n=n, code=f"{n:06d}") for n in range(limit // 2)]
    tries += [_login(client, "twofactor@example.co.ke", n=n) for n in range(limit - limit // 2)]  # no code
    assert set(tries) == {401}
    secret = services.users.by_email("twofactor@example.co.ke").totp_secret
    code = StdlibTotp().code_at(secret, int(services.clock.now().timestamp()))
    assert _login(client, "twofactor@example.co.ke", code=code) == 429


def test_stepping_up_many_times_never_locks_the_account(client, auth, app):
    auth.register("stepper@example.co.ke")
    headers = bearer(auth.login("stepper@example.co.ke")["access_token"])
    limit = app.extensions["cryptopay"].settings.login_account_limit
    answers = [client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=headers) for _ in range(2 * limit)]
    assert {answer.status_code for answer in answers} == {200}
    wrong = [client.post("/v1/auth/step-up", json={"password": "not it at all"}, headers=headers) for _ in range(limit)]
    assert {answer.status_code for answer in wrong} == {403}
    assert client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=headers).status_code == 429
