"""The FX quote repository: the same behaviour from the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
from cryptopay.core.errors import Conflict
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.testing.fx import InMemoryQuoteRepository
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 1, 5, 9, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def quotes(engine):
    return InMemoryQuoteRepository() if engine is None else SqlQuoteRepository(engine)


def quote(quote_id: str, bid: str = "128.554", ask: str = "129.846", pair: str = "USDT/KES") -> Quote:
    return Quote(
        quote_id, Pair.parse(pair), Decimal(bid), Decimal(ask), ("binance", "kraken"), NOW, NOW + timedelta(minutes=15)
    )


def test_quotes_are_kept_whole_and_never_reused(quotes):
    """A stored quote comes back equal (pair, exact bid/ask, sources, times); its id cannot be stored twice."""
    first = quote("fxq_1")
    quotes.add(first)
    quotes.add(quote("fxq_2", "0.007701", "0.007779", "KES/USDT"))
    assert quotes.get("fxq_1") == first
    assert quotes.get("fxq_2").pair == Pair.parse("KES/USDT")
    with pytest.raises(Conflict):
        quotes.add(quote("fxq_1", "1", "2"))
    assert quotes.get("fxq_1").bid == Decimal("128.554") and quotes.get("fxq_9") is None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("1e9"), places=12, allow_nan=False),
    st.integers(min_value=0, max_value=10**6),
)
def test_rates_survive_digit_for_digit(quotes, bid, widen):
    """Whatever the scale, bid and ask come back exactly as they went in (never through a float)."""
    ask = bid + Decimal(widen).scaleb(-6)
    key = f"fxq_{bid}_{widen}"
    if quotes.get(key) is None:
        quotes.add(quote(key, str(bid), str(ask)))
    stored = quotes.get(key)
    assert (stored.bid.as_tuple(), stored.ask.as_tuple()) == (bid.as_tuple(), ask.as_tuple())
