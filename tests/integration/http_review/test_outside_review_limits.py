"""Outside review: password guessing against the rate limits (SQLite root services, the in-process limiter).

The per-account limit (``login_account_limit`` per ``login_account_window_seconds``) is one count per account,
whatever the spelling of its login name and whichever login form the guesses go to; the per-client limit counts an
IPv6 client by its /64 (the block a home or a host is given) and an IPv4-mapped address as its IPv4.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, ready
from cryptopay.core.testing.mobile_money import FakeMobileMoney

from tests.integration.http.http_support import PASSWORD, fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.web.test_portal_pages import _csrf
from tests.support.sql_backends import migrated_sqlite


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path)}
    migrated_sqlite(env)
    root = build(RootSettings.from_env(env))
    try:
        services = attrs.evolve(root, password_hasher=ready(fast_hasher()))
        app = make_app(services, auth_rate_limit=4)
        yield WalletApi(app.test_client(), services, tmp_path / "sms.jsonl", FakeMobileMoney(clock=root.clock))
    finally:
        root.close()


def _guess(api: WalletApi, form: str, name: str, n: int, password: str | None = None) -> int:
    """One password guess at ``name`` through one of the three login forms, from its own IPv4 address and browser
    (a client of its own: a login's session cookie never carries over to the next guess)."""
    password = password or f"guess number {n}"
    environ = {"REMOTE_ADDR": f"198.51.100.{n}"}
    client = api.client.application.test_client()
    if form == "api":
        body = {"email": name, "password": password}
        return client.post("/v1/auth/login", json=body, environ_base=environ).status_code
    field, path = ("phone", "/app/login") if form == "portal" else ("email", "/dashboard/login")
    token = _csrf(client.get(path).get_data(as_text=True))
    form_data = {field: name, "password": password, "csrf_token": token}
    page = client.post(path, data=form_data, environ_base=environ)
    return page.status_code


def test_a_phone_s_password_guesses_are_counted_once_whatever_the_spelling_or_the_form(api: WalletApi):
    """Each spelling of the number (spaces, dashes, +254, 254) and each login form (API, portal, dashboard) used to
    be its own count, so the per-account limit never stopped anyone guessing a wallet's password."""
    api.sign_up("0712000031")
    limit = api.client.application.extensions["cryptopay"].settings.login_account_limit
    spellings = ["0712000031", "+254712000031", "254712000031", "0712 000 031", "07-12-000-031", "(0712) 000031"]
    forms = ["api", "portal", "dashboard"]
    answers = [_guess(api, forms[n % len(forms)], spellings[n % len(spellings)], n) for n in range(limit)]
    assert set(answers) == {401}, answers
    assert _guess(api, "api", "0 7 1 2 0 0 0 0 3 1", limit, password=PASSWORD) == 429
    assert _guess(api, "portal", "+254 712 000 031", limit + 1, password=PASSWORD) == 429


def test_an_email_s_guesses_and_its_phone_s_share_one_count(api: WalletApi):
    """A wallet with an email logs in by either: the two names are one account, so one count."""
    api.sign_up("0712000032", email="shared@example.co.ke")
    limit = api.client.application.extensions["cryptopay"].settings.login_account_limit
    names = ["shared@example.co.ke", "0712000032", " SHARED@example.co.ke "]
    for n in range(limit):
        assert _guess(api, "api", names[n % len(names)], n) == 401
    assert _guess(api, "dashboard", "Shared@Example.co.ke", limit, password=PASSWORD) == 429


def test_a_client_s_ipv6_addresses_in_one_64_are_one_client(api: WalletApi):
    """Every home connection gets a /64: counted by the whole address, one host had 2^64 fresh limits."""
    body = {"email": "nobody@example.co.ke", "password": "wrong password here"}
    answers = [
        api.client.post("/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n:x}"}).status_code
        for n in range(1, 6)
    ]
    assert answers == [401, 401, 401, 401, 429], answers
    other = api.client.post("/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert other.status_code == 401  # the next /64 is someone else


def test_an_ipv4_mapped_address_is_its_ipv4_client(api: WalletApi):
    body = {"email": "nobody@example.co.ke", "password": "wrong password here"}
    addresses = ["203.0.113.9", "::ffff:203.0.113.9", "::ffff:cb00:7109", "203.0.113.9", "::FFFF:203.0.113.9"]
    answers = [
        api.client.post("/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": address}).status_code
        for address in addresses
    ]
    assert answers == [401, 401, 401, 401, 429], answers


def test_made_up_names_neither_grow_the_leases_without_bound_nor_free_a_refused_key(redis_url):
    """A login per made-up name is a rate-limit key of its own for 15 minutes: past ``_MAX_KEYS`` live leases,
    every further key rebuilt the whole map under the process's one lock (each request slower, memory unbounded).
    Leases are forgotten instead (Redis keeps the counts), so a refused key stays refused."""
    import uuid

    from cryptopay.adapters.ratelimit import redis as leases

    limiter = leases.RedisRateLimiter.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    assert limiter.hit("victim", limit=1, window_seconds=900).allowed
    assert not limiter.hit("victim", limit=1, window_seconds=900).allowed
    for n in range(leases._MAX_KEYS + 1):
        limiter.hit(f"account:made-up-{n}@example.com", limit=10, window_seconds=900)
    assert len(limiter._leases) <= leases._MAX_KEYS
    assert not limiter.hit("victim", limit=1, window_seconds=900).allowed


def test_logging_in_often_through_every_form_never_locks_a_wallet(api: WalletApi):
    """Only failures count toward the per-account limit: the owner logging in through the API, the portal and the
    dashboard many times a window is never refused, and the guesses after still meet the limit."""
    api.sign_up("0712000033")
    limit = api.client.application.extensions["cryptopay"].settings.login_account_limit
    forms = ["api", "portal", "dashboard"]
    answers = [_guess(api, forms[n % 3], "0712000033", n, password=PASSWORD) for n in range(2 * limit)]
    assert 429 not in answers and set(answers) <= {200, 303}, answers
    guesses = [_guess(api, forms[n % 3], "0712000033", n) for n in range(limit)]
    assert set(guesses) == {401}, guesses
    assert _guess(api, "portal", "0712000033", limit, password=PASSWORD) == 429
