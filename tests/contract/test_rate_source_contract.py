"""The RateSource contract, held by the in-memory fake and by every HTTP source against the FX simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from cryptopay.adapters.fx import (
    BinanceTickerSource,
    BitstampTickerSource,
    CoinbaseTickerSource,
    ExchangeRateApiSource,
    KrakenSpreadSource,
)
from cryptopay.core.errors import Unavailable
from cryptopay.core.fx import Pair
from cryptopay.core.ports.fx import RateSource, UnsupportedPair
from cryptopay.core.system import SystemClock
from cryptopay.core.testing.fx import FixedRateSource

from tests.support.fx_sandbox import FxSandbox, running_fx_sandbox

TIMEOUT = 1.0
"""The HTTP sources' timeout: the simulator answers in milliseconds, but a loaded CI machine took more than 0.2 s;
the timeout scenario answers after twice this."""


@attrs.frozen
class Kit:
    """A source under test, the pair it quotes, and ways to script what it answers."""

    source: RateSource
    pair: Pair
    set_mid: Callable[[str], None]
    fail: Callable[[str], None]
    go_stale: Callable[[], None]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[FxSandbox]:
    with running_fx_sandbox() as running:
        yield running


def _fake_kit(_: FxSandbox) -> Kit:
    source = FixedRateSource("fake", SystemClock(), {"USDT/KES": "129.00"})
    return Kit(
        source,
        Pair.parse("USDT/KES"),
        lambda mid: source.set("USDT/KES", mid),
        lambda kind: source.fail(kind),
        lambda: source.go_stale(timedelta(hours=1)),
    )


def _http_kit(source: RateSource, simulated: str, pair: str, sandbox: FxSandbox) -> Kit:
    return Kit(
        source,
        Pair.parse(pair),
        lambda mid: sandbox.set_rate(simulated, pair, mid),
        lambda kind: sandbox.set_mode(simulated, kind, delay_seconds=str(TIMEOUT * 2)),
        lambda: sandbox.set_mode(simulated, "stale", age_seconds=3600),
    )


KITS = {
    "fake": _fake_kit,
    "exchangerate-api": lambda sb: _http_kit(
        ExchangeRateApiSource(sb.url, "sandbox", timeout=TIMEOUT), "exchangerate-api", "USD/KES", sb
    ),
    "binance": lambda sb: _http_kit(BinanceTickerSource(sb.url, timeout=TIMEOUT), "binance", "USDT/KES", sb),
    "kraken": lambda sb: _http_kit(KrakenSpreadSource(sb.url, timeout=TIMEOUT), "kraken", "USDT/USD", sb),
    "coinbase": lambda sb: _http_kit(CoinbaseTickerSource(sb.url, timeout=TIMEOUT), "coinbase", "USDC/USD", sb),
    "bitstamp": lambda sb: _http_kit(BitstampTickerSource(sb.url, timeout=TIMEOUT), "bitstamp", "USDT/USD", sb),
    # bitcoin in dollars, the leg BTC/KES is crossed through, from every market that quotes it
    "binance-btc": lambda sb: _http_kit(BinanceTickerSource(sb.url, timeout=TIMEOUT), "binance", "BTC/USD", sb),
    "kraken-btc": lambda sb: _http_kit(KrakenSpreadSource(sb.url, timeout=TIMEOUT), "kraken", "BTC/USD", sb),
    "coinbase-btc": lambda sb: _http_kit(CoinbaseTickerSource(sb.url, timeout=TIMEOUT), "coinbase", "BTC/USD", sb),
    "bitstamp-btc": lambda sb: _http_kit(BitstampTickerSource(sb.url, timeout=TIMEOUT), "bitstamp", "BTC/USD", sb),
}


@pytest.fixture(params=sorted(KITS))
def kit(request, sandbox) -> Kit:
    sandbox.control("reset")
    return KITS[request.param](sandbox)


def test_a_quoted_pair_returns_a_fresh_decimal_rate_named_after_the_source(kit):
    """fetch returns a Rate for the asked pair, from this source, with a Decimal mid and a recent aware time."""
    kit.set_mid("130.10")
    rate = kit.source.fetch(kit.pair)
    assert rate.pair == kit.pair and rate.source == kit.source.name
    assert isinstance(rate.mid, Decimal)
    assert abs(rate.mid - Decimal("130.10")) <= Decimal("0.01")
    assert rate.as_of.tzinfo is not None
    assert abs(datetime.now(UTC) - rate.as_of) < timedelta(seconds=5)


def test_a_pair_the_source_does_not_quote_is_unsupported(kit):
    """An unquoted pair raises UnsupportedPair, so the pricer may try a cross rate instead."""
    with pytest.raises(UnsupportedPair):
        kit.source.fetch(Pair.parse("BTC/KES" if kit.pair.base.code != "BTC" else "ETH/KES"))


@pytest.mark.parametrize("kind", ["fail", "timeout", "malformed"])
def test_a_failing_source_is_unavailable_and_says_which_source(kit, kind):
    """Server errors, timeouts and garbage bodies all surface as Unavailable naming the source."""
    kit.fail(kind)
    with pytest.raises(Unavailable) as raised:
        kit.source.fetch(kit.pair)
    assert kit.source.name in raised.value.message


def test_a_stale_source_reports_its_own_old_observation_time(kit):
    """A stale source's rate carries the source's old timestamp, not the time we asked."""
    kit.go_stale()
    rate = kit.source.fetch(kit.pair)
    assert datetime.now(UTC) - rate.as_of > timedelta(minutes=30)
