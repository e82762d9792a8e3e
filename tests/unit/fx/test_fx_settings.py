"""FxSettings from CRYPTOPAY_FX_* variables: defaults, sandbox URL, validation, and secrets kept out of repr."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from cryptopay.adapters.fx import FxSettings, build_sources
from cryptopay.core.errors import InvalidInput, Unavailable


def test_defaults_point_at_the_real_providers_with_a_safe_policy():
    """With no variables the settings name the real hosts, a 5 minute max age and a 0.98-1.02 peg band."""
    settings = FxSettings.from_env({})
    assert settings.exchangerate_url == "https://v6.exchangerate-api.com"
    assert settings.sources == ("exchangerate-api", "binance", "kraken", "coinbase", "bitstamp")
    assert settings.coinbase_url == "https://api.exchange.coinbase.com"
    assert settings.bitstamp_url == "https://www.bitstamp.net"
    policy = settings.policy()
    assert policy.max_age == timedelta(minutes=5) and policy.pegs[0].low == Decimal("0.98")
    assert [band.stable.code for band in policy.pegs] == ["USDT", "USDC"]
    assert settings.redis_url is None


def test_every_variable_is_read():
    """Each CRYPTOPAY_FX_* variable lands in its setting, and CRYPTOPAY_REDIS_URL is the cache fallback."""
    settings = FxSettings.from_env(
        {
            "CRYPTOPAY_FX_SOURCES": "binance, kraken",
            "CRYPTOPAY_FX_BINANCE_URL": "http://b",
            "CRYPTOPAY_FX_KRAKEN_URL": "http://k",
            "CRYPTOPAY_FX_TIMEOUT_SECONDS": "1.5",
            "CRYPTOPAY_FX_CACHE_TTL_SECONDS": "0",
            "CRYPTOPAY_FX_MAX_AGE_SECONDS": "60",
            "CRYPTOPAY_FX_QUOTE_TTL_SECONDS": "120",
            "CRYPTOPAY_FX_MARGIN": "0.01",
            "CRYPTOPAY_FX_PEG_MIN": "0.97",
            "CRYPTOPAY_FX_PEG_MAX": "1.03",
            "CRYPTOPAY_REDIS_URL": "redis://:pw@h:6379/1",
        }
    )
    assert settings.sources == ("binance", "kraken")
    assert (settings.binance_url, settings.kraken_url, settings.timeout) == ("http://b", "http://k", Decimal("1.5"))
    assert settings.cache_ttl == timedelta(0) and settings.max_age == timedelta(seconds=60)
    assert settings.policy().quote_ttl == timedelta(seconds=120) and settings.policy().margin == Decimal("0.01")
    assert (settings.peg_low, settings.peg_high) == (Decimal("0.97"), Decimal("1.03"))
    assert settings.redis_url == "redis://:pw@h:6379/1" and "pw@" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CRYPTOPAY_FX_SOURCES", "binance,oanda"),
        ("CRYPTOPAY_FX_TIMEOUT_SECONDS", "soon"),
        ("CRYPTOPAY_FX_MAX_AGE_SECONDS", "0"),
        ("CRYPTOPAY_FX_MARGIN", "-0.1x"),
        ("CRYPTOPAY_FX_PEG_MIN", "-1"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name, value):
    """A malformed or out-of-range value is InvalidInput whose message names the variable."""
    with pytest.raises(InvalidInput, match=name):
        FxSettings.from_env({name: value})


def test_the_exchangerate_source_needs_a_key_outside_the_sandbox():
    """Building the ExchangeRate-API source without a key is refused with the variable to set, and the simulator's
    variable for a developer without a key."""
    with pytest.raises(Unavailable, match=r"CRYPTOPAY_FX_EXCHANGERATE_KEY.*CRYPTOPAY_FX_SANDBOX_URL"):
        build_sources(FxSettings.from_env({}))
