"""Pricing with in-memory sources: median, staleness, failures, depeg guard, cross rates, persistence, caching."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from cryptopay.adapters.fx import ProcessRateCache
from cryptopay.core.errors import InvalidInput, Unavailable
from cryptopay.core.fx import Pair, Rate
from cryptopay.core.ports.fx import UnsupportedPair
from cryptopay.core.pricing import CachedRateSource, Depegged, PegBand, Pricer, PricingPolicy
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.system import ManualClock, SequentialIds

USDT_KES = Pair.parse("USDT/KES")
USD_KES = Pair.parse("USD/KES")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def quotes() -> InMemoryQuoteRepository:
    return InMemoryQuoteRepository()


def make_pricer(clock, quotes, *sources, policy=None) -> Pricer:
    return Pricer(list(sources), clock=clock, ids=SequentialIds(), quotes=quotes, policy=policy)


def markets(clock, *mids: str) -> list[FixedRateSource]:
    return [FixedRateSource(f"m{i}", clock, {"USDT/KES": mid, "USDT/USD": "1.0000"}) for i, mid in enumerate(mids)]


def test_quote_is_the_median_of_three_sources_with_the_margin(clock, quotes):
    """Three fresh sources give a quote around their median, with the margin either side."""
    pricer = make_pricer(clock, quotes, *markets(clock, "128.00", "129.00", "135.00"))
    quote = pricer.quote(USDT_KES)
    assert quote.bid == Decimal("128.355000") and quote.ask == Decimal("129.645000")
    assert quote.sources == ("m0", "m1", "m2")
    assert quote.expires_at == clock.now() + timedelta(minutes=15)


def test_a_stale_source_is_ignored_and_the_reason_recorded(clock, quotes):
    """A source older than the max age leaves the median and is listed with the reason."""
    a, b, c = markets(clock, "128.00", "129.00", "200.00")
    c.go_stale(timedelta(minutes=6))
    pricer = make_pricer(clock, quotes, a, b, c)
    survey = pricer.survey(USDT_KES)
    assert [f.source for f in survey.failures] == ["m2", "m2"]
    assert "stale" in survey.failures[-1].reason
    assert pricer.quote(USDT_KES).sources == ("m0", "m1")


def test_all_sources_stale_refuses_to_quote_and_says_why(clock, quotes):
    """When every source is stale the pricer refuses with Unavailable and names each reason."""
    sources = markets(clock, "128.00", "129.00")
    for source in sources:
        source.go_stale(timedelta(hours=1))
    with pytest.raises(Unavailable, match=r"refusing to quote.*m0.*stale.*m1.*stale") as raised:
        make_pricer(clock, quotes, *sources).quote(USDT_KES)
    assert len(quotes) == 0
    assert raised.value.details["failures"]


def test_all_sources_failing_refuses_to_quote(clock, quotes):
    """Failing sources are skipped; with none left the pricer refuses rather than inventing a rate."""
    sources = markets(clock, "128.00", "129.00")
    for source in sources:
        source.fail("HTTP 500")
    with pytest.raises(Unavailable, match="HTTP 500"):
        make_pricer(clock, quotes, *sources).quote(USDT_KES)


def test_a_failing_source_falls_back_to_the_others(clock, quotes):
    """One failing source does not stop the quote; the others price it."""
    a, b = markets(clock, "128.00", "130.00")
    a.fail("timed out")
    assert make_pricer(clock, quotes, a, b).quote(USDT_KES).sources == ("m1",)


def test_a_source_raising_an_unexpected_error_is_skipped_without_its_text(clock, quotes):
    """A source that crashes is skipped, and its exception text (maybe a URL with a key) is not repeated."""

    class Broken:
        name = "broken"

        def fetch(self, pair: Pair) -> Rate:
            raise RuntimeError("https://host/v6/SECRET/latest/USD")

    pricer = make_pricer(clock, quotes, Broken(), *markets(clock, "129.00"))
    survey = pricer.survey(USDT_KES)
    assert all("SECRET" not in f.reason for f in survey.failures)
    assert pricer.quote(USDT_KES).sources == ("m0",)


@pytest.mark.parametrize("peg", ["0.9799", "1.0201", "0.50"])
def test_a_depegged_stablecoin_is_refused(clock, quotes, peg):
    """A USDT/USD median outside 0.98-1.02 refuses the quote and persists nothing."""
    source = FixedRateSource("m", clock, {"USDT/KES": "129.00", "USDT/USD": peg})
    with pytest.raises(Depegged, match=r"outside 0\.98-1\.02"):
        make_pricer(clock, quotes, source).quote(USDT_KES)
    assert len(quotes) == 0


def test_the_peg_band_is_configurable_and_inclusive(clock, quotes):
    """A wider configured band accepts what the default refuses; the band edges themselves are inside."""
    source = FixedRateSource("m", clock, {"USDT/KES": "129.00", "USDT/USD": "0.95"})
    policy = PricingPolicy(pegs=(PegBand(low=Decimal("0.95"), high=Decimal("1.05")),))
    assert make_pricer(clock, quotes, source, policy=policy).quote(USDT_KES).sources == ("m",)


def test_no_peg_observation_refuses_a_stablecoin_quote(clock, quotes):
    """Without a fresh USDT/USD observation nobody can tell a depeg, so USDT pairs are refused."""
    source = FixedRateSource("m", clock, {"USDT/KES": "129.00"})
    with pytest.raises(Unavailable, match="cannot check the USDT/USD peg"):
        make_pricer(clock, quotes, source).quote(USDT_KES)


def test_a_fiat_pair_needs_no_peg(clock, quotes):
    """A pair without a stablecoin is quoted without any USDT/USD observation."""
    source = FixedRateSource("forex", clock, {"USD/KES": "129.00"})
    assert make_pricer(clock, quotes, source).quote(USD_KES).sources == ("forex",)


def test_a_cross_rate_is_derived_from_the_reference_leg_and_the_peg(clock, quotes):
    """A source with only USD/KES contributes USDT/KES = USD/KES x median USDT/USD."""
    market = FixedRateSource("market", clock, {"USDT/USD": "1.01"})
    forex = FixedRateSource("forex", clock, {"USD/KES": "128.00"})
    survey = make_pricer(clock, quotes, market, forex).survey(USDT_KES)
    assert [(r.source, r.mid) for r in survey.rates] == [("forex (USD/KES x USDT/USD)", Decimal("129.2800"))]


def test_a_failing_source_is_not_used_for_a_cross_rate(clock, quotes):
    """A source that failed on the pair is skipped, not re-asked for the cross leg."""
    market = FixedRateSource("market", clock, {"USDT/USD": "1.00", "USDT/KES": "129.00"})
    forex = FixedRateSource("forex", clock, {"USD/KES": "128.00"})
    forex.fail("HTTP 500")
    assert make_pricer(clock, quotes, market, forex).quote(USDT_KES).sources == ("market",)


USDC_USDT = Pair.parse("USDC/USDT")


def test_two_stablecoins_no_source_pairs_are_crossed_through_the_dollar(clock, quotes):
    """Outside review R8: no source quotes USDC/USDT; it is median USDC/USD / median USDT/USD, as old as its older
    leg, and a source that does quote it directly is preferred."""
    market = FixedRateSource("market", clock, {"USDT/USD": "1.0010", "USDC/USD": "0.9990"})
    other = FixedRateSource("other", clock, {"USDT/USD": "1.0000", "USDC/USD": "1.0000"})
    survey = make_pricer(clock, quotes, market, other).survey(USDC_USDT)
    (rate,) = survey.rates
    assert rate.source == "cross (USDC/USD / USDT/USD)" and rate.mid == Decimal("0.99950") / Decimal("1.00050")
    market.set("USDC/USDT", "0.9991")
    assert make_pricer(clock, quotes, market, other).quote(USDC_USDT).sources == ("market",)


def test_a_cross_through_a_depegged_stablecoin_is_refused_not_guessed(clock, quotes):
    """USDC off its peg: no cross rate, the pricer is unavailable for USDC/USDT and says why; with no USDC price at
    all the pair is not quoted (unsupported)."""
    market = FixedRateSource("market", clock, {"USDT/USD": "1.00", "USDC/USD": "0.95"})
    with pytest.raises(Unavailable, match=r"USDC/USD is at 0\.95, outside 0\.98-1\.02"):
        make_pricer(clock, quotes, market).quote(USDC_USDT)
    with pytest.raises(UnsupportedPair, match="USDC/USDT"):
        make_pricer(clock, quotes, *markets(clock, "129.00")).quote(USDC_USDT)


def test_every_quote_is_persisted_under_a_new_id(clock, quotes):
    """Each locked quote is stored and can be read back by its id."""
    pricer = make_pricer(clock, quotes, *markets(clock, "129.00"))
    first, second = pricer.quote(USDT_KES), pricer.quote(USDT_KES)
    assert first.id != second.id
    assert quotes.get(first.id) == first and quotes.get(second.id) == second


def test_a_pair_no_source_quotes_is_not_found(clock, quotes):
    """When every source says it does not quote the pair, the pricer says so (not found, not a fault)."""
    with pytest.raises(UnsupportedPair, match="no configured rate source quotes BTC/KES"):
        make_pricer(clock, quotes, *markets(clock, "129.00")).quote(Pair.parse("BTC/KES"))


def test_a_pair_of_one_asset_is_invalid(clock, quotes):
    """Quoting KES/KES is invalid input."""
    with pytest.raises(InvalidInput):
        make_pricer(clock, quotes, *markets(clock, "129.00")).quote(Pair.parse("KES/KES"))


def test_no_sources_refuses_to_quote(clock, quotes):
    """A pricer with no sources refuses instead of quoting."""
    with pytest.raises(Unavailable, match="no source configured"):
        make_pricer(clock, quotes).quote(USD_KES)


def test_a_cached_source_is_asked_once_within_the_ttl(clock):
    """Within the cache TTL the cached answer is reused; after it the source is asked again."""
    source = FixedRateSource("m", clock, {"USD/KES": "129.00"})
    cached = CachedRateSource(source, ProcessRateCache(clock), timedelta(seconds=30))
    first = cached.fetch(USD_KES)
    clock.advance(seconds=29)
    source.set("USD/KES", "130.00")
    assert cached.fetch(USD_KES) == first
    clock.advance(seconds=1)
    assert cached.fetch(USD_KES).mid == Decimal("130.00")
    assert len(source.calls) == 2


class _GatedSource:
    """A source whose fetches wait at a gate, counted: threads that miss the cache together are all in flight."""

    name = "gated"

    def __init__(self, answer: Callable[[], Rate]) -> None:
        self.answer, self.gate, self.calls = answer, threading.Event(), 0

    def fetch(self, pair: Pair) -> Rate:
        self.calls += 1
        assert self.gate.wait(10)
        return self.answer()


def _together(cached: CachedRateSource, source: _GatedSource, threads: int = 8) -> list[object]:
    """``threads`` fetches of USD/KES at once (the gate opened once they are all under way): answers or errors."""
    outcomes: list[object] = []

    def fetch() -> None:
        try:
            outcomes.append(cached.fetch(USD_KES))
        except Unavailable as error:
            outcomes.append(error)

    workers = [threading.Thread(target=fetch) for _ in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(0.3)
    source.gate.set()
    for worker in workers:
        worker.join(10)
    return outcomes


def test_threads_that_miss_the_cache_together_share_one_fetch(clock):
    """Eight threads missing an expired answer at once ask the source once and all get its answer (#17: each
    creation after an expiry asked every source itself, and they queued behind each other for seconds)."""
    rate = FixedRateSource("m", clock, {"USD/KES": "129.00"}).fetch(USD_KES)
    source = _GatedSource(lambda: rate)
    cached = CachedRateSource(source, ProcessRateCache(clock), timedelta(seconds=30))
    assert _together(cached, source) == [rate] * 8
    assert source.calls == 1


def test_a_shared_fetch_that_fails_fails_every_waiter_and_is_not_kept(clock):
    """The source's failure reaches every thread that waited for it; nothing is cached, so the next miss asks again."""

    def down() -> Rate:
        raise Unavailable("source down")

    source = _GatedSource(down)
    cached = CachedRateSource(source, ProcessRateCache(clock), timedelta(seconds=30))
    outcomes = _together(cached, source)
    assert len(outcomes) == 8 and all(isinstance(o, Unavailable) for o in outcomes) and source.calls == 1
    with pytest.raises(Unavailable):
        cached.fetch(USD_KES)
    assert source.calls == 2


def test_a_broken_cache_is_bypassed(clock):
    """When the cache is unavailable the source is asked directly."""

    class DownCache:
        def get(self, key):
            raise Unavailable("redis down")

        def put(self, key, rate, ttl):
            raise Unavailable("redis down")

    source = FixedRateSource("m", clock, {"USD/KES": "129.00"})
    cached = CachedRateSource(source, DownCache(), timedelta(seconds=30))
    assert cached.fetch(USD_KES).mid == Decimal("129.00")
    assert cached.name == "m"


def _refreshing(clock, source, *, cache=None):
    """A cached source that refreshes ahead, its refreshes kept in a list to run when the test says."""
    spawned: list[Callable[[], None]] = []
    cache = cache or ProcessRateCache(clock)
    return CachedRateSource(source, cache, timedelta(seconds=30), clock=clock, spawn=spawned.append), spawned


def test_an_answer_is_refreshed_ahead_of_its_expiry(clock):
    """The first hit in the last fifth of the TTL starts one refresh and is answered from the cache at once; the new
    answer then lives its own TTL (every answer expired at once before, and the quotes of that moment waited for
    the sources one after another)."""
    source = FixedRateSource("m", clock, {"USD/KES": "129.00"})
    cached, spawned = _refreshing(clock, source)
    first = cached.fetch(USD_KES)
    clock.advance(seconds=23)
    assert cached.fetch(USD_KES) == first and spawned == []  # not due yet (24 s)
    clock.advance(seconds=2)
    source.set("USD/KES", "130.00")
    assert cached.fetch(USD_KES) == first and cached.fetch(USD_KES) == first
    assert len(spawned) == 1 and len(source.calls) == 1  # one refresh, not run yet: nobody waited for it
    spawned.pop()()
    assert cached.fetch(USD_KES).mid == Decimal("130.00") and len(source.calls) == 2
    clock.advance(seconds=23)  # 48 s after the first fetch: the refreshed answer (kept at 25 s) still lives
    assert cached.fetch(USD_KES).mid == Decimal("130.00") and spawned == [] and len(source.calls) == 2


def test_a_failed_refresh_keeps_the_old_answer_until_it_expires(clock):
    """A refresh that fails keeps nothing and starts no other: the old answer lives out its TTL, then a miss asks
    the source as before (and its failure is the caller's)."""
    source = FixedRateSource("m", clock, {"USD/KES": "129.00"})
    cached, spawned = _refreshing(clock, source)
    first = cached.fetch(USD_KES)
    clock.advance(seconds=25)
    source.fail()
    assert cached.fetch(USD_KES) == first
    spawned.pop()()  # logs, raises nothing
    clock.advance(seconds=4)
    assert cached.fetch(USD_KES) == first and spawned == []
    clock.advance(seconds=1)
    with pytest.raises(Unavailable):
        cached.fetch(USD_KES)
    assert len(source.calls) == 3


def test_an_answer_another_process_fetched_is_refreshed_by_that_process(clock):
    """A hit on an answer this process did not fetch (another process's, read from the shared cache) starts no
    refresh here: the process that fetched it refreshes it."""
    source = FixedRateSource("m", clock, {"USD/KES": "129.00"})
    shared = ProcessRateCache(clock)
    fetching, _ = _refreshing(clock, source, cache=shared)
    other, spawned = _refreshing(clock, source, cache=shared)
    fetching.fetch(USD_KES)
    clock.advance(seconds=28)
    assert other.fetch(USD_KES).mid == Decimal("129.00") and spawned == []


def test_a_pair_a_source_does_not_quote_is_refreshed_ahead_too(clock):
    """An answer that a source does not quote the pair is refreshed ahead like a rate; the refresh raises nothing."""
    source = FixedRateSource("m", clock, {"USD/KES": "129.00"})
    cached, spawned = _refreshing(clock, source)
    with pytest.raises(UnsupportedPair):
        cached.fetch(USDT_KES)
    clock.advance(seconds=25)
    with pytest.raises(UnsupportedPair):
        cached.fetch(USDT_KES)
    spawned.pop()()
    assert len(source.calls) == 2


def test_a_cached_stale_rate_is_still_refused(clock, quotes):
    """Caching never makes a rate fresher: staleness is judged on the source's own time."""
    source = FixedRateSource("m", clock, {"USD/KES": "129.00"})
    cached = CachedRateSource(source, ProcessRateCache(clock), timedelta(minutes=10))
    pricer = make_pricer(clock, quotes, cached)
    pricer.quote(USD_KES)
    clock.advance(minutes=6)
    with pytest.raises(Unavailable, match="stale"):
        pricer.quote(USD_KES)


BTC_KES = Pair.parse("BTC/KES")


def _btc_markets(clock, *mids: str) -> list[FixedRateSource]:
    return [FixedRateSource(f"x{i}", clock, {"BTC/USD": mid}) for i, mid in enumerate(mids)]


def test_bitcoin_is_priced_in_shillings_through_the_median_dollar_price(clock, quotes):
    """BTC/KES = USD/KES x the median BTC/USD of the markets, with the same margin as any quote."""
    forex = FixedRateSource("forex", clock, {"USD/KES": "129.00"})
    pricer = make_pricer(clock, quotes, forex, *_btc_markets(clock, "96000", "97000", "99000"))
    quote = pricer.quote(BTC_KES)
    assert quote.sources == ("forex (USD/KES x BTC/USD)",)
    assert quote.mid == Decimal("12513000.000000")
    assert quote.bid == Decimal("12450435.000000")


def test_a_bitcoin_cross_rate_is_as_old_as_its_older_leg(clock, quotes):
    """A dollar price older than the max age cannot make a fresh shilling price: the quote is refused."""
    forex = FixedRateSource("forex", clock, {"USD/KES": "129.00"})
    (market,) = _btc_markets(clock, "97000")
    market.go_stale(timedelta(minutes=6))
    with pytest.raises(Unavailable) as refused:
        make_pricer(clock, quotes, forex, market).quote(BTC_KES)
    assert "stale" in refused.value.message


def test_bitcoin_without_a_dollar_market_is_an_unsupported_pair(clock, quotes):
    """With no market quoting BTC at all, BTC/KES is unsupported (a store cannot accept it), not unavailable."""
    forex = FixedRateSource("forex", clock, {"USD/KES": "129.00"})
    pricer = make_pricer(clock, quotes, forex, *markets(clock, "129.1"))
    assert pricer.prices(BTC_KES) is False
    with pytest.raises(UnsupportedPair):
        pricer.quote(BTC_KES)


def test_usdc_is_priced_like_usdt_and_guarded_by_its_own_peg(clock, quotes):
    """USDC/KES crosses through the median USDC/USD, and a USDC depeg refuses USDC without touching USDT."""
    forex = FixedRateSource("forex", clock, {"USD/KES": "129.00"})
    market = FixedRateSource("m", clock, {"USDC/USD": "1.0000", "USDT/USD": "1.0000"})
    pricer = make_pricer(clock, quotes, forex, market)
    assert pricer.quote(Pair.parse("USDC/KES")).mid == Decimal("129.000000")
    market.set("USDC/USD", "0.90")
    with pytest.raises(Depegged):
        pricer.quote(Pair.parse("USDC/KES"))
    assert pricer.quote(USDT_KES).mid == Decimal("129.000000")
