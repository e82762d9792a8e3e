"""Fee schedules: components, caps, tiers, versions and the FX spread."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptopay.core.errors import AssetMismatch, InvalidAmount, InvalidInput, NotFound
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule, FeeTier, TierBasis, fx_spread
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.money import KES, USDT, Money
from hypothesis import given
from hypothesis import strategies as st

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def kes(value: object) -> Money:
    return Money.of(value, KES)


def usdt(value: object) -> Money:
    return Money.of(value, USDT)


def merchant_fee(**options: object) -> FeeSchedule:
    defaults: dict[str, object] = {"product": FeeProduct.MERCHANT, "asset": USDT, "version": 1, "effective_from": JAN}
    return FeeSchedule(**{**defaults, **options})  # type: ignore[arg-type]


def test_percent_rounds_up_to_the_platform():
    """A percent fee that falls between two minor units rounds up."""
    quote = merchant_fee(percent=Decimal("1")).quote(usdt("0.000150"))
    assert quote.fee == usdt("0.000002")


def test_quote_lists_each_component_and_they_sum_to_the_fee():
    """The quote shows the percent part, the fixed part and any cap adjustment, adding up to the fee."""
    schedule = merchant_fee(percent=Decimal("2"), fixed=usdt("0.5"), maximum=usdt("3"))
    quote = schedule.quote(usdt("200"))
    assert [c.name for c in quote.components] == ["percent", "fixed", "maximum"]
    assert sum((c.amount for c in quote.components), usdt(0)) == quote.fee == usdt("3")
    assert quote.net == usdt("197")
    assert quote.schedule_id == "merchant:USDT:standard:v1"


def test_minimum_fee_raises_a_small_fee():
    """A fee below the schedule's minimum is raised to the minimum."""
    quote = merchant_fee(percent=Decimal("1"), minimum=usdt("0.10")).quote(usdt("5"))
    assert quote.fee == usdt("0.10")
    assert quote.components[-1].name == "minimum"


def test_fee_never_exceeds_the_amount_it_is_charged_on():
    """A minimum fee larger than a tiny amount is capped at the amount, so the net is never negative."""
    quote = merchant_fee(fixed=usdt("1")).quote(usdt("0.40"))
    assert quote.fee == usdt("0.40") and quote.net.is_zero()
    assert quote.components[-1].name == "capped_at_amount"


def test_volume_tier_lowers_the_rate_for_a_busy_merchant():
    """On a volume basis, the merchant's volume so far picks the tier."""
    schedule = merchant_fee(percent=Decimal("1.5"), tiers=(FeeTier(usdt("10000"), Decimal("1"), usdt(0)),))
    assert schedule.quote(usdt("100")).fee == usdt("1.5")
    assert schedule.quote(usdt("100"), volume=usdt("9999.99")).fee == usdt("1.5")
    assert schedule.quote(usdt("100"), volume=usdt("10000")).fee == usdt("1")


def test_amount_bands_pick_the_mpesa_charge():
    """On an amount basis (M-Pesa bands), the charged amount itself picks the band."""
    bands = (FeeTier(kes(0), Decimal(0), kes(0)), FeeTier(kes(101), Decimal(0), kes(5)), FeeTier(kes(1001), 0, kes(13)))
    schedule = FeeSchedule(
        product=FeeProduct.MPESA_PAYOUT,
        asset=KES,
        version=1,
        effective_from=JAN,
        tiers=bands,
        tier_basis=TierBasis.AMOUNT,
    )
    assert [schedule.quote(kes(v)).fee for v in ("100", "101", "1000", "1001")] == [kes(0), kes(5), kes(5), kes(13)]


def test_schedule_refuses_other_assets_and_negative_amounts():
    """A USDT schedule refuses KES and negative amounts."""
    with pytest.raises(AssetMismatch):
        merchant_fee().quote(kes(1))
    with pytest.raises(InvalidAmount):
        merchant_fee().quote(usdt("-1"))


@pytest.mark.parametrize(
    "options",
    [
        {"percent": Decimal("101")},
        {"minimum": usdt("2"), "maximum": usdt("1")},
        {"fixed": kes(1)},
        {"tiers": (FeeTier(usdt(5), 1, usdt(0)), FeeTier(usdt(5), 2, usdt(0)))},
        {"version": 0},
    ],
)
def test_malformed_schedules_are_refused(options):
    """Percent above 100, min above max, foreign assets, unordered tiers and version 0 are refused."""
    with pytest.raises(InvalidInput):
        merchant_fee(**options)


def test_fee_book_picks_the_version_in_force():
    """The latest version effective at the moment applies; before the first there is none."""
    june = datetime(2026, 6, 1, tzinfo=UTC)
    book = FeeBook([merchant_fee(percent=Decimal(1)), merchant_fee(version=2, effective_from=june, percent=Decimal(2))])
    assert book.quote(FeeProduct.MERCHANT, usdt(100), at=june - timedelta(seconds=1)).fee == usdt(1)
    assert book.quote(FeeProduct.MERCHANT, usdt(100), at=june).schedule_id.endswith(":v2")
    with pytest.raises(NotFound):
        book.schedule_for(FeeProduct.MERCHANT, USDT, at=JAN - timedelta(days=1))


def test_fx_spread_is_what_the_bid_keeps_against_the_mid():
    """Selling 100 USDT at bid 128.554 with mid 129.20 leaves KES 64.60 to the platform."""
    quote = Quote(
        "q", Pair.parse("USDT/KES"), Decimal("128.554"), Decimal("129.846"), ("a",), JAN, JAN + timedelta(minutes=15)
    )
    assert fx_spread(quote, usdt(100), at=JAN) == kes("64.60")
    assert fx_spread(quote, kes("12920"), at=JAN).is_positive()
    spread_schedule = FeeSchedule(
        product=FeeProduct.FX_SPREAD, asset=KES, version=1, effective_from=JAN, percent=Decimal("0.5")
    )
    assert spread_schedule.rate == Decimal("0.005")


amounts = st.integers(min_value=0, max_value=10**12).map(lambda units: Money.from_minor(units, USDT))
optional_caps = st.none() | st.integers(min_value=0, max_value=10**9).map(lambda units: Money.from_minor(units, USDT))


@given(
    amount=amounts,
    percent=st.decimals(min_value=0, max_value=100, places=3),
    fixed=st.integers(min_value=0, max_value=10**8).map(lambda units: Money.from_minor(units, USDT)),
    low=optional_caps,
    high=optional_caps,
)
def test_fee_is_never_negative_and_never_above_its_caps(amount, percent, fixed, low, high):
    """For any schedule and amount: 0 <= fee <= maximum, fee <= amount, fee >= min(minimum, amount), parts sum up."""
    if low is not None and high is not None and low > high:
        low, high = high, low
    quote = merchant_fee(percent=percent, fixed=fixed, minimum=low, maximum=high).quote(amount)
    assert not quote.fee.is_negative()
    assert quote.fee <= amount
    if high is not None:
        assert quote.fee <= high
    if low is not None:
        assert quote.fee >= min(low, amount)
    assert sum((c.amount for c in quote.components), usdt(0)) == quote.fee
