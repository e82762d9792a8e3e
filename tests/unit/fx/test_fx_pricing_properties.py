"""Properties of locked quotes: bid <= mid <= ask, and a round trip never gains and loses at most the spread."""

from __future__ import annotations

from decimal import Decimal

from cryptopay.core.fx import Pair
from cryptopay.core.money import Money
from cryptopay.core.pricing import Pricer, PricingPolicy
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.system import ManualClock, SequentialIds
from hypothesis import given
from hypothesis import strategies as st

mids = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=4)
margins = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.05"), places=4)


def quote_from(mid_values, margin):
    clock = ManualClock()
    sources = [
        FixedRateSource(f"s{i}", clock, {"USDT/KES": mid, "USDT/USD": "1.00"}) for i, mid in enumerate(mid_values)
    ]
    pricer = Pricer(
        sources, clock=clock, ids=SequentialIds(), quotes=InMemoryQuoteRepository(), policy=PricingPolicy(margin=margin)
    )
    return clock, pricer.quote(Pair.parse("USDT/KES"))


@given(st.lists(mids, min_size=1, max_size=5), margins)
def test_bid_mid_ask_are_ordered(mid_values, margin):
    """Every quote has bid <= mid <= ask around the median of its sources."""
    _, quote = quote_from(mid_values, margin)
    assert quote.bid <= quote.mid <= quote.ask
    assert min(mid_values) * (1 - margin) - Decimal("0.000001") <= quote.bid
    assert quote.ask <= max(mid_values) * (1 + margin) + Decimal("0.000001")


@given(
    st.lists(mids, min_size=1, max_size=5),
    margins,
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1000000"), places=6),
)
def test_a_round_trip_never_gains_and_loses_at_most_the_spread(mid_values, margin, amount):
    """Converting USDT->KES->USDT never returns more than went in, and loses at most the spread plus rounding."""
    clock, quote = quote_from(mid_values, margin)
    start = Money.of(amount, "USDT")
    back = quote.convert(quote.convert(start, at=clock.now()), at=clock.now())
    assert back <= start
    worst = start.amount * quote.bid / quote.ask - Decimal("0.01") / quote.ask - Decimal("0.000001")
    assert back.amount >= worst
