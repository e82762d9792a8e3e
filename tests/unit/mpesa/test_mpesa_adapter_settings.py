"""Daraja adapter pieces without a network: settings refuse sandbox URLs in production; tokens refresh early."""

from __future__ import annotations

import threading
import time

import pytest
from cryptopay.adapters.mpesa import SANDBOX_URL, DarajaSettings, TokenCache, is_sandbox_url
from cryptopay.core.errors import InvalidInput

from tests.support.threads import joined

KEYS = {"consumer_key": "k", "consumer_secret": "s", "shortcode": "174379"}


@pytest.mark.parametrize("url", [SANDBOX_URL, "http://127.0.0.1:8089", "http://localhost:5000", "http://10.0.0.5"])
def test_production_settings_refuse_a_sandbox_or_local_url(url: str) -> None:
    """Production refuses Safaricom's sandbox, loopback and private hosts unless explicitly allowed."""
    with pytest.raises(InvalidInput, match="allow_sandbox"):
        DarajaSettings(base_url=url, **KEYS)
    assert DarajaSettings(base_url=url, allow_sandbox=True, **KEYS).base_url == url
    assert DarajaSettings(base_url=url, production=False, **KEYS).base_url == url


def test_production_url_is_the_default_and_secrets_stay_out_of_repr() -> None:
    """The default host is production, and repr shows no key, secret, passkey or password."""
    settings = DarajaSettings(passkey="pk-secret", initiator_password="pw-secret", **KEYS)
    assert not is_sandbox_url(settings.base_url)
    assert not any(secret in repr(settings) for secret in ("pk-secret", "pw-secret", "'k'", "'s'"))


def test_settings_from_environment() -> None:
    """CRYPTOPAY_MPESA_* variables configure the adapter; missing credentials are named."""
    env = {
        "CRYPTOPAY_MPESA_CONSUMER_KEY": "k",
        "CRYPTOPAY_MPESA_CONSUMER_SECRET": "s",
        "CRYPTOPAY_MPESA_SHORTCODE": "174379",
        "CRYPTOPAY_MPESA_BASE_URL": SANDBOX_URL,
        "CRYPTOPAY_MPESA_ALLOW_SANDBOX": "true",
        "CRYPTOPAY_MPESA_MAX_ATTEMPTS": "5",
    }
    settings = DarajaSettings.from_env(env)
    assert (settings.base_url, settings.allow_sandbox, settings.max_attempts) == (SANDBOX_URL, True, 5)
    with pytest.raises(InvalidInput, match="CRYPTOPAY_MPESA_CONSUMER_KEY"):
        DarajaSettings.from_env({})


def test_settings_from_environment_default_like_the_constructor() -> None:
    """Unset CRYPTOPAY_MPESA_* variables leave every field at the constructor's default."""
    env = {"CRYPTOPAY_MPESA_" + name.upper(): value for name, value in KEYS.items()}
    assert DarajaSettings.from_env(env) == DarajaSettings(**KEYS)


def test_token_cache_refreshes_before_expiry_and_after_invalidation() -> None:
    """A one-hour token is reused for ~50 minutes, then refreshed; invalidating the current one forces a fetch."""
    now = [0.0]
    fetched: list[str] = []

    def fetch() -> tuple[str, float]:
        fetched.append(f"t{len(fetched) + 1}")
        return fetched[-1], 3599.0

    cache = TokenCache(fetch, margin=600, clock=lambda: now[0])
    assert cache.get() == "t1"
    now[0] = 2900.0
    assert cache.get() == "t1"
    now[0] = 3000.0
    assert cache.get() == "t2"
    cache.invalidate("t1")  # a stale token from another thread does not evict the fresh one
    assert cache.get() == "t2"
    cache.invalidate("t2")
    assert cache.get() == "t3"


def test_token_cache_fetches_once_for_many_threads() -> None:
    """Concurrent callers share one token fetch instead of each invalidating the other's token."""
    calls: list[int] = []

    def slow_fetch() -> tuple[str, float]:
        calls.append(1)
        time.sleep(0.05)
        return "shared", 3599.0

    cache = TokenCache(slow_fetch, margin=600, clock=time.monotonic)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(cache.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    joined(*threads)
    assert tokens == ["shared"] * 8 and len(calls) == 1
