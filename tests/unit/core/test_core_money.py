"""Money's arithmetic skips re-checking amounts it knows are exact: the results are the checked constructor's.

A sum or difference of two amounts of one asset is exact while it is small enough for the decimal context, so
``+`` and ``-`` build it without the constructor's check; past that size (or under a context of fewer digits) the
constructor checks it as it checks every other amount. These properties hold the fast results to the checked ones.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.errors import AssetMismatch, InvalidAmount
from cryptopay.core.money import ASSETS, BTC, ETH, KES, USDT, Asset, Money
from hypothesis import given
from hypothesis import strategies as st

assets = st.sampled_from(sorted(ASSETS.values(), key=lambda a: a.code))
precisions = st.sampled_from([6, 12, 28, 40])


def _units(prec: int) -> st.SearchStrategy[int]:
    """Minor units of about as many digits as the context holds (sums that just fit, and sums that outgrow it),
    or of any length up to past it."""
    near = st.integers(max(1, prec - 2), prec + 1)
    lengths = st.one_of(near, st.integers(1, prec + 14))
    return lengths.flatmap(lambda digits: st.integers(-(10**digits), 10**digits))


def _checked(amount: Decimal, asset: Asset) -> Money | type[InvalidAmount]:
    try:
        return Money(amount, asset)
    except InvalidAmount:
        return InvalidAmount


def _fast(build: object) -> Money | type[InvalidAmount]:
    try:
        return build()  # type: ignore[operator,no-any-return]
    except InvalidAmount:
        return InvalidAmount


def _places(money: Money) -> int:
    exponent = money.amount.as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


@given(assets, precisions, st.data())
def test_sums_and_differences_are_what_the_checked_constructor_makes(
    asset: Asset, prec: int, data: st.DataObject
) -> None:
    x, y = data.draw(_units(prec)), data.draw(_units(prec))
    with decimal.localcontext(prec=prec):
        a, b = _checked(Decimal(x).scaleb(-asset.decimals), asset), _checked(Decimal(y).scaleb(-asset.decimals), asset)
        if a is InvalidAmount or b is InvalidAmount:
            return
        assert isinstance(a, Money) and isinstance(b, Money)
        for fast, checked in (
            (_fast(lambda: a + b), _checked(a.amount + b.amount, asset)),
            (_fast(lambda: a - b), _checked(a.amount - b.amount, asset)),
            (_fast(lambda: -a), _checked(-a.amount, asset)),
        ):
            assert fast == checked
            if isinstance(fast, Money):
                assert _places(fast) == asset.decimals and fast.asset == asset


@given(assets)
def test_zero_is_one_shared_immutable_value_per_asset(asset: Asset) -> None:
    zero = Money.zero(asset)
    assert zero == Money.of(0, asset) and zero is Money.zero(asset.code) and _places(zero) == asset.decimals
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        zero.amount = Decimal(1)  # type: ignore[misc]


def test_the_constructor_still_refuses_what_it_refused() -> None:
    with pytest.raises(InvalidAmount, match="decimal places"):
        Money(Decimal("1.005"), KES)
    with pytest.raises(TypeError):
        Money(1.5, KES)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount, match="too large"):
        Money.of("9" * 26, KES) + Money.of("9" * 26, KES)
    with pytest.raises(AssetMismatch):
        Money.of(1, KES) + Money.of(1, USDT)
    with pytest.raises(TypeError):
        Money.of(1, KES) + Decimal(1)  # type: ignore[operator]
    assert Money.of("0.00000001", BTC) - Money.of("0.00000001", BTC) == Money.zero(BTC)
    assert Money.of("1", ETH) + Money.of("0.000000000000000001", ETH) == Money.of("1.000000000000000001", ETH)
