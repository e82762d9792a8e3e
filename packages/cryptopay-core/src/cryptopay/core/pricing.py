"""Pricing: ask every rate source, keep the fresh answers, guard the stablecoin peg, lock and persist a quote.

A source that fails, is stale, or does not quote the pair is skipped and the reason recorded; if no fresh
source answers, pricing refuses (``Unavailable``) -- there is never a fallback constant. A source that only
quotes the reference currency (e.g. USD/KES) still contributes to a crypto pair through a cross rate with the
median crypto/reference observation of every source: USDT/KES = USD/KES x median USDT/USD, and BTC/KES =
USD/KES x median BTC/USD (exchanges quote BTC in dollars, forex sources quote dollars in shillings). Both legs
must be fresh, the cross rate is as old as its older leg, and the quote takes the same median and margin as a
direct rate. A stablecoin pair is refused while its median against the reference is outside the peg band (a
depeg), or while nobody can tell.

Two crypto assets no source quotes against each other (USDC/USDT: a USDT-priced invoice with a USDC rail, outside
review R8) are crossed through the reference: USDC/USDT = median USDC/USD / median USDT/USD, as old as its older leg;
a leg that is a stablecoin outside its peg band gives no cross (the pair is unavailable, not guessed).

>>> from cryptopay.core.fx import Pair
>>> from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
>>> from cryptopay.core.testing.system import ManualClock, SequentialIds
>>> clock = ManualClock()
>>> market = FixedRateSource("market", clock, {"USDT/KES": "129.40", "USDT/USD": "1.0002"})
>>> forex = FixedRateSource("forex", clock, {"USD/KES": "129.00"})
>>> pricer = Pricer([market, forex], clock=clock, ids=SequentialIds(), quotes=InMemoryQuoteRepository())
>>> quote = pricer.quote(Pair.parse("USDT/KES"))
>>> quote.id, quote.sources, quote.mid
('fxq_000001', ('forex (USD/KES x USDT/USD)', 'market'), Decimal('129.212900'))
>>> market.set("BTC/USD", "97000")
>>> pricer.quote(Pair.parse("BTC/KES")).sources
('forex (USD/KES x BTC/USD)',)
>>> market.set("USDC/USD", "0.9999")
>>> crossed = pricer.quote(Pair.parse("USDC/USDT"))
>>> crossed.sources, crossed.mid
(('cross (USDC/USD / USDT/USD)',), Decimal('0.999700'))
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.errors import CryptopayError, InvalidInput, Refused, Unavailable
from cryptopay.core.fx import DEFAULT_MARGIN, DEFAULT_MAX_AGE, DEFAULT_QUOTE_TTL, Pair, Quote, Rate, lock_quote
from cryptopay.core.money import USD, USDC, USDT, Asset
from cryptopay.core.ports.fx import QuoteRepository, RateCache, RateSource, Unquoted, UnsupportedPair
from cryptopay.core.ports.system import Clock, IdGenerator

__all__ = ["CachedRateSource", "Depegged", "PegBand", "Pricer", "PricingPolicy", "SourceFailure", "Survey"]

log = logging.getLogger(__name__)


class Depegged(Refused):
    """A stablecoin trades too far from its reference currency to price it safely."""

    code = "depegged"


@attrs.frozen
class PegBand:
    """The band a stablecoin's price in its reference currency must stay inside to be priced."""

    stable: Asset = USDT
    reference: Asset = USD
    low: Decimal = Decimal("0.98")
    high: Decimal = Decimal("1.02")

    def __attrs_post_init__(self) -> None:
        if not Decimal(0) < self.low <= self.high:
            raise InvalidInput(f"a peg band needs 0 < low <= high, got {self.low}-{self.high}")

    @property
    def pair(self) -> Pair:
        return Pair(self.stable, self.reference)


@attrs.frozen
class PricingPolicy:
    """How quotes are made: margin either side of the mid, quote lifetime, rate max age, peg bands."""

    margin: Decimal = DEFAULT_MARGIN
    quote_ttl: timedelta = DEFAULT_QUOTE_TTL
    max_age: timedelta = DEFAULT_MAX_AGE
    pegs: tuple[PegBand, ...] = (PegBand(), PegBand(stable=USDC))
    reference: Asset = USD  # the currency crypto is crossed through when no source quotes a pair directly

    def band_for(self, pair: Pair) -> PegBand | None:
        return next((b for b in self.pegs if b.stable in (pair.base, pair.quote)), None)

    def bridge_for(self, pair: Pair) -> Pair | None:
        """The crypto/reference pair a cross rate for ``pair`` goes through (BTC/KES: BTC/USD), if one can."""
        if pair.base.fiat or not pair.quote.fiat or self.reference in (pair.base, pair.quote):
            return None
        return Pair(pair.base, self.reference)

    def crossing_for(self, pair: Pair) -> tuple[Pair, Pair] | None:
        """The two crypto/reference legs a crypto/crypto pair is crossed through when no source quotes it directly
        (USDC/USDT: USDC/USD and USDT/USD), if it can be."""
        if pair.base.fiat or pair.quote.fiat or self.reference in (pair.base, pair.quote):
            return None
        return Pair(pair.base, self.reference), Pair(pair.quote, self.reference)


@attrs.frozen
class SourceFailure:
    """Why one source gave nothing usable for one pair."""

    source: str
    pair: Pair
    reason: str
    unsupported: bool = False  # the source simply does not quote the pair: expected, not a fault

    def __str__(self) -> str:
        return f"{self.source} {self.pair}: {self.reason.removeprefix(self.source + ': ')}"


@attrs.frozen
class Survey:
    """What the sources said about a pair at ``at``: the fresh rates, the failures, and the peg median if any."""

    pair: Pair
    at: datetime
    rates: tuple[Rate, ...]
    failures: tuple[SourceFailure, ...]
    peg: Decimal | None = None


class Pricer:
    """Quotes pairs from a set of sources under a policy, persisting every quote it locks."""

    def __init__(
        self,
        sources: Sequence[RateSource],
        *,
        clock: Clock,
        ids: IdGenerator,
        quotes: QuoteRepository,
        policy: PricingPolicy | None = None,
    ) -> None:
        self.sources = tuple(sources)
        self.policy = policy or PricingPolicy()
        self._clock, self._ids, self._quotes = clock, ids, quotes

    def survey(self, pair: Pair) -> Survey:
        """Ask every source about ``pair`` (and the peg pair when a stablecoin is involved)."""
        if pair.base == pair.quote:
            raise InvalidInput(f"{pair} is not a pair of two different assets")
        now, failures = self._clock.now(), list[SourceFailure]()
        band = self.policy.band_for(pair)
        pegged = self._collect(band.pair, now, failures) if band else []
        peg = Decimal(statistics.median(r.mid for r in pegged)) if pegged else None
        if band is not None and pair == band.pair:
            return Survey(pair, now, tuple(pegged), tuple(failures), peg)
        bridge = self.policy.bridge_for(pair)
        if band is not None and bridge == band.pair:
            legs = pegged
        else:
            legs = self._collect(bridge, now, failures) if bridge is not None else []
        rates = [r for s in self.sources if (r := self._observe(s, pair, now, bridge, legs, failures))]
        crossing = self.policy.crossing_for(pair)
        if not rates and crossing is not None:
            known = {band.pair: pegged} if band is not None else {}
            cross = self._cross(pair, crossing, now, failures, known)
            rates = [cross] if cross is not None else []
        return Survey(pair, now, tuple(rates), tuple(failures), peg)

    def prices(self, pair: Pair) -> bool:
        """Whether some source quotes ``pair`` (see ``Quoter.prices``); nothing is locked or persisted."""
        survey = self.survey(pair)
        return bool(survey.rates) or not all(f.unsupported for f in survey.failures)

    def quote(self, pair: Pair) -> Quote:
        """Lock a quote from the median of fresh sources, after the peg check, and persist it."""
        survey = self.survey(pair)
        self._check_peg(survey)
        if not survey.rates and survey.failures and all(f.unsupported for f in survey.failures):
            raise UnsupportedPair(f"no configured rate source quotes {pair}", failures=survey.failures)
        policy = self.policy
        try:
            quote = lock_quote(
                survey.rates,
                now=survey.at,
                quote_id=self._ids.new_id("fxq"),
                pair=pair,
                margin=policy.margin,
                ttl=policy.quote_ttl,
                max_age=policy.max_age,
            )
        except Unavailable:
            raise Unavailable(
                f"no fresh rate for {pair}: refusing to quote ({_reasons(survey)})", failures=survey.failures
            ) from None
        self._quotes.add(quote)
        return quote

    def _check_peg(self, survey: Survey) -> None:
        band = self.policy.band_for(survey.pair)
        if band is None:
            return
        if survey.peg is None:
            raise Unavailable(
                f"cannot check the {band.pair} peg, no fresh source answered: refusing to quote {survey.pair} "
                f"({_reasons(survey)})",
                failures=survey.failures,
            )
        if not band.low <= survey.peg <= band.high:
            raise Depegged(
                f"{band.pair} is at {survey.peg}, outside {band.low}-{band.high}: refusing to quote {survey.pair}",
                peg=survey.peg,
            )

    def _cross(
        self,
        pair: Pair,
        crossing: tuple[Pair, Pair],
        now: datetime,
        failures: list[SourceFailure],
        known: dict[Pair, list[Rate]],
    ) -> Rate | None:
        """``pair`` as the ratio of the median rates of its two legs against the reference, or None (why, in
        ``failures``: a leg nobody quotes fresh, or a stablecoin leg off its peg)."""
        medians: list[Decimal] = []
        as_of: list[datetime] = []
        for leg in crossing:
            rates = known[leg] if leg in known else self._collect(leg, now, failures)
            if not rates:
                return None
            median = Decimal(statistics.median(r.mid for r in rates))
            band = next((b for b in self.policy.pegs if b.pair == leg), None)
            if band is not None and not band.low <= median <= band.high:
                reason = f"{leg} is at {median}, outside {band.low}-{band.high}: no cross rate for {pair}"
                failures.append(SourceFailure("cross", pair, reason))
                return None
            medians.append(median)
            as_of.extend(r.as_of for r in rates)
        base, quote = medians
        if not quote > 0:
            return None
        return Rate(pair, base / quote, f"cross ({crossing[0]} / {crossing[1]})", min(as_of))

    def _collect(self, pair: Pair, now: datetime, failures: list[SourceFailure]) -> list[Rate]:
        return [r for s in self.sources if (r := self._fresh(s, pair, now, failures))]

    def _observe(
        self,
        source: RateSource,
        pair: Pair,
        now: datetime,
        bridge: Pair | None,
        legs: list[Rate],
        failures: list[SourceFailure],
    ) -> Rate | None:
        """The source's own rate for ``pair``, else its reference/quote rate times the median bridge rate."""
        can_cross = bridge is not None and bool(legs)
        direct = self._fresh(source, pair, now, failures, quiet_unsupported=can_cross)
        if direct is not None or bridge is None or not can_cross:
            return direct
        if any(f.source == source.name and f.pair == pair for f in failures):
            return None  # it failed for another reason than not quoting the pair: don't mix its other answers in
        leg = self._fresh(source, Pair(bridge.quote, pair.quote), now, failures)
        if leg is None:
            return None
        median = Decimal(statistics.median(r.mid for r in legs))
        as_of = min([leg.as_of, *(r.as_of for r in legs)])
        return Rate(pair, leg.mid * median, f"{source.name} ({leg.pair} x {bridge})", as_of)

    def _fresh(
        self,
        source: RateSource,
        pair: Pair,
        now: datetime,
        failures: list[SourceFailure],
        *,
        quiet_unsupported: bool = False,
    ) -> Rate | None:
        reason, unsupported = None, False
        try:
            rate = source.fetch(pair)
        except UnsupportedPair as error:
            reason, unsupported = (None if quiet_unsupported else error.message), True
        except CryptopayError as error:
            reason = error.message
        except Exception as error:  # a broken source must not stop the others; its text may hold a URL, so not shown
            log.exception("rate source %s raised unexpectedly", source.name)
            reason = f"unexpected {type(error).__name__}"
        else:
            if rate.pair != pair:
                reason = f"answered {rate.pair} instead"
            elif not rate.is_fresh(now, self.policy.max_age):
                reason = f"stale: as of {rate.as_of.isoformat()}, older than {_seconds(self.policy.max_age)}"
            else:
                return rate
        if reason is not None:
            log.log(logging.DEBUG if unsupported else logging.INFO, "skipped %s for %s: %s", source.name, pair, reason)
            failures.append(SourceFailure(source.name, pair, reason, unsupported))
        return None


@attrs.define
class _Flight:
    """One fetch of a pair from a source, shared by the threads that missed the cache meanwhile."""

    done: threading.Event = attrs.Factory(threading.Event)
    rate: Rate | None = None
    error: Exception | None = None


def _in_thread(refresh: Callable[[], None]) -> None:
    threading.Thread(target=refresh, name="fx-refresh", daemon=True).start()


@attrs.frozen
class CachedRateSource:
    """A rate source whose answers are reused for ``ttl``; a failing cache is bypassed, never fatal.

    "Does not quote this pair" is an answer too, kept for the same ``ttl``: without it, every quote of a pair some
    source lacks (USDT/KES on a forex source) would call that source. A failure (``Unavailable``) is not kept.
    Caching never makes a rate fresher: the pricer still judges it by the source's own ``as_of``.

    When an answer expires, the threads of a process that miss it together share one fetch (the first asks the
    source, the others wait for its answer or its failure): without that, every invoice created in the moment
    after the expiry asked every source itself, and under load they queued behind each other for seconds.

    With a ``clock``, an answer this process fetched is refreshed ahead of its expiry: the first hit in the last
    ``ahead`` of its ``ttl`` starts one fetch in the background (``spawn``: a daemon thread) and is answered from
    the cache at once, as are the hits after it, until the new answer is kept (a refresh that fails keeps nothing;
    the old answer lives out its ``ttl``). Without it every answer expired at once, ``ttl`` after the first quote,
    and the quotes of that moment waited for the sources one after another (every 30 s; ``docs/operations.md``,
    "Creation's tail"). An answer another process fetched (read from Redis) is refreshed by that process.
    """

    source: RateSource
    cache: RateCache
    ttl: timedelta
    clock: Clock | None = None
    ahead: float = 0.2
    spawn: Callable[[Callable[[], None]], None] = _in_thread
    _flights: dict[str, _Flight] = attrs.field(factory=dict, init=False, eq=False, repr=False)
    _kept: dict[str, datetime] = attrs.field(factory=dict, init=False, eq=False, repr=False)  # when, by this process
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, eq=False, repr=False)

    @property
    def name(self) -> str:
        return self.source.name

    def fetch(self, pair: Pair) -> Rate:
        key = f"{self.source.name}:{pair}"
        try:
            hit = self.cache.get(key)
        except Unavailable as error:
            log.warning("rate cache unavailable, asking %s directly: %s", self.source.name, error.message)
            return self.source.fetch(pair)
        if hit is not None:
            self._refresh_if_due(key, pair)
        if isinstance(hit, Unquoted):
            raise UnsupportedPair(hit.reason)
        if hit is not None:
            return hit
        return self._shared_fetch(key, pair)

    def _refresh_if_due(self, key: str, pair: Pair) -> None:
        if self.clock is None:
            return
        kept = self._kept.get(key)
        if kept is None or self.clock.now() < kept + self.ttl * (1 - self.ahead):
            return
        with self._lock:
            if key in self._flights:
                return  # a fetch of it is under way
            flight = self._flights[key] = _Flight()
            self._kept.pop(key, None)  # one refresh per answer

        def refresh() -> None:
            try:
                self._fly(key, pair, flight)
            except UnsupportedPair:
                pass  # kept: "does not quote this pair" is an answer too
            except Exception as error:  # the old answer lives out its ttl; the next miss asks again
                log.warning("refreshing %s ahead of its expiry failed: %s", key, type(error).__name__)

        self.spawn(refresh)

    def _shared_fetch(self, key: str, pair: Pair) -> Rate:
        with self._lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leading:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.rate is not None
            return flight.rate
        return self._fly(key, pair, flight)

    def _fly(self, key: str, pair: Pair, flight: _Flight) -> Rate:
        """Fetch for ``flight`` (registered under ``key``), share the answer or the failure, then end it."""
        try:
            flight.rate = self._fetch(key, pair)
        except Exception as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
        return flight.rate

    def _fetch(self, key: str, pair: Pair) -> Rate:
        try:
            rate = self.source.fetch(pair)
        except UnsupportedPair as error:
            self._keep(key, Unquoted(pair, error.message))
            raise
        self._keep(key, rate)
        return rate

    def _keep(self, key: str, answer: Rate | Unquoted) -> None:
        try:
            self.cache.put(key, answer, self.ttl)
        except Unavailable as error:
            log.warning("rate cache unavailable, not caching %s: %s", key, error.message)
            return
        if self.clock is not None:
            self._kept[key] = self.clock.now()


def _reasons(survey: Survey) -> str:
    """The failures worth reading: faults first; "does not quote" only when that is all there is."""
    faults = [f for f in survey.failures if not f.unsupported] or list(survey.failures)
    return "; ".join(str(f) for f in faults) or "no source configured"


def _seconds(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())} s"
