"""Pricing over real HTTP against the FX simulator: fallback, staleness, median, depeg, secrets kept out."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from cryptopay.adapters.fx import FxSettings, build_pricer
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair
from cryptopay.core.pricing import Depegged
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.fx import InMemoryQuoteRepository

USDT_KES = Pair.parse("USDT/KES")
CROSS = "exchangerate-api (USD/KES x USDT/USD)"


def pricer_for(sandbox, **env):
    settings = FxSettings.from_env(
        {
            "CRYPTOPAY_FX_SANDBOX_URL": sandbox.url,
            "CRYPTOPAY_FX_CACHE_TTL_SECONDS": "0",
            "CRYPTOPAY_FX_TIMEOUT_SECONDS": "0.3",
            **env,
        }
    )
    return build_pricer(settings, clock=SystemClock(), ids=RandomIds(), quotes=InMemoryQuoteRepository())


def test_all_sources_healthy_quote_the_median_of_direct_and_cross_rates(fx_sandbox):
    """USDT/KES is the median of the market's direct rate and the forex rate crossed with the USDT/USD median."""
    fx_sandbox.set_rate("binance", "USDT/KES", "130.00")
    fx_sandbox.set_rate("binance", "USDT/USD", "1.0000")
    fx_sandbox.set_rate("kraken", "USDT/USD", "1.0000")
    fx_sandbox.set_rate("exchangerate-api", "USD/KES", "128.00")
    quote = pricer_for(fx_sandbox).quote(USDT_KES)
    assert quote.sources == ("binance", CROSS)
    assert quote.bid == Decimal("128.355000") and quote.ask == Decimal("129.645000")


def test_a_failing_market_falls_back_to_the_forex_cross_rate(fx_sandbox):
    """With the market answering HTTP 500, the forex source still prices USDT/KES via the peg median."""
    fx_sandbox.set_mode("binance", "fail")
    quote = pricer_for(fx_sandbox).quote(USDT_KES)
    assert quote.sources == (CROSS,)


def test_a_timing_out_market_falls_back_to_the_others(fx_sandbox):
    """A source that does not answer within the timeout is skipped and the quote still comes from the others."""
    fx_sandbox.set_mode("binance", "timeout", delay_seconds="1")
    assert pricer_for(fx_sandbox).quote(USDT_KES).sources == (CROSS,)


def test_a_stale_source_is_left_out_of_the_median(fx_sandbox):
    """A source whose own timestamp is an hour old is skipped with a reason that says stale."""
    fx_sandbox.set_mode("exchangerate-api", "stale", age_seconds=3600)
    pricer = pricer_for(fx_sandbox)
    survey = pricer.survey(USDT_KES)
    assert any(f.source == "exchangerate-api" and "stale" in f.reason for f in survey.failures)
    assert pricer.quote(USDT_KES).sources == ("binance",)


def test_every_kes_source_stale_refuses_to_quote(fx_sandbox):
    """When no fresh source answers for KES the pricer refuses; no constant rate is ever used."""
    for source in ("exchangerate-api", "binance"):
        fx_sandbox.set_mode(source, "stale", age_seconds=3600)
    with pytest.raises(Unavailable, match="refusing to quote"):
        pricer_for(fx_sandbox).quote(USDT_KES)


def test_a_depeg_seen_by_the_market_sources_refuses_usdt_quotes(fx_sandbox):
    """USDT/USD at 0.95 on the market sources refuses USDT/KES even though KES rates are fresh."""
    for source, mid in (("binance", "0.95"), ("kraken", "0.96"), ("coinbase", "0.955"), ("bitstamp", "0.955")):
        fx_sandbox.set_rate(source, "USDT/USD", mid)
    with pytest.raises(Depegged, match=r"USDT/USD is at 0\.955"):
        pricer_for(fx_sandbox).quote(USDT_KES)


def test_the_configured_peg_band_is_honoured(fx_sandbox):
    """CRYPTOPAY_FX_PEG_MIN widens the band so the same market prices again."""
    for source, mid in (("binance", "0.95"), ("kraken", "0.96"), ("coinbase", "0.955"), ("bitstamp", "0.955")):
        fx_sandbox.set_rate(source, "USDT/USD", mid)
    assert pricer_for(fx_sandbox, CRYPTOPAY_FX_PEG_MIN="0.90").quote(USDT_KES).sources == ("binance", CROSS)


def test_a_wrong_api_key_is_never_repeated_in_errors_or_logs(fx_sandbox, caplog):
    """A rejected ExchangeRate-API key surfaces as invalid-key, and the key itself appears nowhere."""
    secret = "sk_live_TOPSECRET_1234"
    caplog.set_level(logging.DEBUG)
    pricer = pricer_for(fx_sandbox, CRYPTOPAY_FX_EXCHANGERATE_KEY=secret, CRYPTOPAY_FX_SOURCES="exchangerate-api")
    with pytest.raises(Unavailable) as raised:
        pricer.quote(Pair.parse("USD/KES"))
    assert "invalid-key" in raised.value.message
    assert secret not in raised.value.message and secret not in caplog.text
    assert secret not in repr(FxSettings.from_env({"CRYPTOPAY_FX_EXCHANGERATE_KEY": secret}))
