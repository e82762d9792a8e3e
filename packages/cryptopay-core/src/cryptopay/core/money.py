"""Money and assets: exact decimal amounts, quantized to the asset, never floats.

Invariant: a ``Money`` amount always has exactly ``asset.decimals`` places, and arithmetic
never mixes assets. Rounding happens only where a caller names a rounding mode.

>>> from cryptopay.core.money import KES, USDT, Money
>>> Money.of("1500.5", KES)
Money('1500.50', 'KES')
>>> Money.of("10", USDT) + Money.of("0.000001", USDT)
Money('10.000001', 'USDT')
>>> [str(part.amount) for part in Money.of("100", KES).allocate([1, 1, 1])]
['33.34', '33.33', '33.33']
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal
from typing import Any

import attrs
from cryptopay.core.errors import AssetMismatch, InvalidAmount, UnknownAsset

__all__ = [
    "ASSETS",
    "BNB",
    "BTC",
    "ETH",
    "KES",
    "POL",
    "TRX",
    "USD",
    "USDC",
    "USDT",
    "Asset",
    "Money",
    "Rounding",
    "asset_by_code",
    "exact_amount",
    "to_decimal",
]


class Rounding:
    """Named rounding modes: fees round up (to the platform), payouts round down (to the customer)."""

    UP = ROUND_UP
    DOWN = ROUND_DOWN
    HALF_EVEN = ROUND_HALF_EVEN


@attrs.frozen
class Asset:
    """A unit of account: a code and how many decimal places it is counted in."""

    code: str
    decimals: int
    fiat: bool = False

    @property
    def quantum(self) -> Decimal:
        """The smallest amount of this asset, e.g. ``Decimal('0.01')`` for KES."""
        return _quantum(self.decimals)

    def __str__(self) -> str:
        return self.code


KES = Asset("KES", 2, fiat=True)
USD = Asset("USD", 2, fiat=True)
USDT = Asset("USDT", 6)
USDC = Asset("USDC", 6)
BTC = Asset("BTC", 8)
ETH = Asset("ETH", 18)
BNB = Asset("BNB", 18)
POL = Asset("POL", 18)
TRX = Asset("TRX", 6)
ASSETS: dict[str, Asset] = {a.code: a for a in (KES, USD, USDT, USDC, BTC, ETH, BNB, POL, TRX)}


def asset_by_code(code: str) -> Asset:
    """Look an asset up by its code, case-insensitively.

    >>> asset_by_code("usdt").decimals
    6
    """
    try:
        return ASSETS[code.strip().upper()]
    except (KeyError, AttributeError):
        raise UnknownAsset(f"unknown asset {code!r}; known: {', '.join(sorted(ASSETS))}") from None


def to_decimal(value: object) -> Decimal:
    """Turn a Decimal, int or numeric string into a Decimal; refuse floats and garbage.

    >>> to_decimal("1,250.50")
    Decimal('1250.50')
    """
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    if isinstance(value, float):
        raise TypeError("money is never a float: pass a Decimal, an int or a string")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            result = Decimal(text)
        except decimal.InvalidOperation:
            raise InvalidAmount(f"{value!r} is not a number") from None
    else:
        raise TypeError(f"cannot make an amount from {type(value).__name__}")
    if not result.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite amount")
    return result


_QUANTA: dict[int, Decimal] = {}
_BOUNDS: dict[tuple[int, int], Decimal] = {}


def _quantum(decimals: int) -> Decimal:
    found = _QUANTA.get(decimals)
    if found is None:
        found = _QUANTA[decimals] = Decimal(1).scaleb(-decimals)
    return found


def _bound(decimals: int) -> Decimal:
    """Below this size a sum or difference of two amounts of ``decimals`` places is exact in the current decimal
    context (at most ``prec - 1`` digits): its result has those places already and needs no checking."""
    key = (decimal.getcontext().prec, decimals)
    found = _BOUNDS.get(key)
    if found is None:
        found = _BOUNDS[key] = Decimal(10).scaleb(key[0] - 1 - decimals)
    return found


def _quantize_exact(amount: Decimal, asset: Asset) -> Decimal:
    try:
        quantized = amount.quantize(_quantum(asset.decimals), rounding=ROUND_DOWN)
    except decimal.InvalidOperation:  # more digits than the context's precision: no real amount is that large
        raise InvalidAmount(f"{amount} is too large an amount of {asset.code}") from None
    if quantized != amount:
        raise InvalidAmount(
            f"{amount} has more than {asset.decimals} decimal places for {asset.code}; round it explicitly"
        )
    return quantized


def exact_amount(amount: Decimal, asset: Asset) -> Decimal:
    """``Money(amount, asset).amount`` without making the ``Money``: ``amount`` at the asset's places, refused
    (``InvalidAmount``) when that would lose a digit.

    >>> exact_amount(Decimal("12.5"), KES)
    Decimal('12.50')
    """
    return _quantize_exact(amount, asset)


@attrs.frozen(order=False)
class Money:
    """An exact amount of one asset. Build with ``Money.of`` (exact) or ``Money.rounded`` (explicit rounding)."""

    amount: Decimal
    asset: Asset

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal; use Money.of(...)")
        object.__setattr__(self, "amount", _quantize_exact(self.amount, self.asset))

    @classmethod
    def _exact(cls, amount: Decimal, asset: Asset) -> Money:
        """Money from an amount known to have exactly ``asset.decimals`` places (a sum or difference of two
        amounts of the asset within ``_bound``, the negation of one): what the constructor would check is true
        already, so it is not checked again. Private: every other amount goes through the constructor."""
        money = object.__new__(cls)
        _set(money, "amount", amount)
        _set(money, "asset", asset)
        return money

    @classmethod
    def of(cls, value: object, asset: Asset | str) -> Money:
        """Exact money: refuses floats and amounts finer than the asset's quantum."""
        the_asset = asset if isinstance(asset, Asset) else asset_by_code(asset)
        return cls(to_decimal(value), the_asset)

    @classmethod
    def rounded(cls, value: object, asset: Asset | str, rounding: str) -> Money:
        """Money rounded to the asset's quantum with a named mode (see ``Rounding``).

        >>> Money.rounded("2.345", "KES", Rounding.UP)
        Money('2.35', 'KES')
        """
        the_asset = asset if isinstance(asset, Asset) else asset_by_code(asset)
        return cls(to_decimal(value).quantize(the_asset.quantum, rounding=rounding), the_asset)

    @classmethod
    def zero(cls, asset: Asset | str) -> Money:
        """Zero of an asset (``Money`` is immutable: one zero per asset serves everyone)."""
        the_asset = asset if isinstance(asset, Asset) else asset_by_code(asset)
        found = _ZEROS.get(the_asset)
        if found is None:
            found = _ZEROS[the_asset] = cls.of(0, the_asset)
        return found

    @classmethod
    def parse(cls, text: str) -> Money:
        """Parse ``"1500 KES"`` or ``"KES 1,500.00"``.

        >>> Money.parse("KES 1,500")
        Money('1500.00', 'KES')
        """
        parts = text.split()
        if len(parts) != 2:
            raise InvalidAmount(f"{text!r} is not '<amount> <asset>'")
        first, second = parts
        if first.upper() in ASSETS:
            return cls.of(second, first)
        return cls.of(first, second)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.asset is not self.asset and other.asset != self.asset:
            raise AssetMismatch(f"cannot combine {self.asset.code} with {other.asset.code}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return _result(self.amount + other.amount, self.asset)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return _result(self.amount - other.amount, self.asset)

    def __neg__(self) -> Money:
        return Money._exact(-self.amount, self.asset)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.asset)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def times(self, factor: object, rounding: str) -> Money:
        """Multiply by a Decimal factor, rounding explicitly.

        >>> Money.of("100", "KES").times("0.015", Rounding.UP)
        Money('1.50', 'KES')
        """
        return Money.rounded(self.amount * to_decimal(factor), self.asset, rounding)

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_positive(self) -> bool:
        return self.amount > 0

    def is_negative(self) -> bool:
        return self.amount < 0

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of the asset's quantum."""
        return int(self.amount.scaleb(self.asset.decimals))

    @classmethod
    def from_minor(cls, units: int, asset: Asset | str) -> Money:
        """Money from an integer count of the asset's quantum.

        >>> Money.from_minor(150, "KES")
        Money('1.50', 'KES')
        """
        the_asset = asset if isinstance(asset, Asset) else asset_by_code(asset)
        if not isinstance(units, int) or isinstance(units, bool):
            raise TypeError("minor units are an int")
        return cls(Decimal(units).scaleb(-the_asset.decimals), the_asset)

    def allocate(self, ratios: Sequence[int | Decimal]) -> list[Money]:
        """Split by ratios without losing a minor unit; leftovers go to the first parts."""
        if not ratios or any(to_decimal(r) < 0 for r in ratios) or sum(to_decimal(r) for r in ratios) == 0:
            raise InvalidAmount("allocate needs non-negative ratios with a positive total")
        weights = [to_decimal(r) for r in ratios]
        total_weight = sum(weights)
        units = self.minor_units
        sign = -1 if units < 0 else 1
        shares = [int(abs(units) * w / total_weight) for w in weights]
        remainder = abs(units) - sum(shares)
        for index in range(remainder):
            shares[index % len(shares)] += 1
        return [Money.from_minor(sign * share, self.asset) for share in shares]

    def whole(self, rounding: str = ROUND_DOWN) -> Money:
        """Round to whole units (M-Pesa moves whole shillings); rounds down by default.

        >>> Money.of("1999.99", "KES").whole()
        Money('1999.00', 'KES')
        """
        return Money(self.amount.quantize(Decimal(1), rounding=rounding).quantize(self.asset.quantum), self.asset)

    def __str__(self) -> str:
        """Positional, as ``to_json`` (a zero bitcoin reads ``0.00000000 BTC``, never ``0E-8 BTC``).

        >>> str(Money.zero(BTC))
        '0.00000000 BTC'
        """
        return f"{self.amount:f} {self.asset.code}"

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.asset.code}')"

    def to_json(self) -> dict[str, Any]:
        """The edge form: amounts as plain decimal strings, never numbers (and never ``0E-8`` for zero bitcoin).

        >>> Money.zero(BTC).to_json()
        {'amount': '0.00000000', 'asset': 'BTC'}
        """
        return {"amount": format(self.amount, "f"), "asset": self.asset.code}


_set = object.__setattr__
_ZEROS: dict[Asset, Money] = {}


def _result(amount: Decimal, asset: Asset) -> Money:
    """The sum or difference of two amounts of ``asset``: exact as it is when within ``_bound`` (the usual case),
    else checked by the constructor as any other amount (a result the context had to round is refused there)."""
    bound = _bound(asset.decimals)
    if -bound < amount < bound:
        return Money._exact(amount, asset)
    return Money(amount, asset)


def total(items: Iterable[Money], asset: Asset) -> Money:
    """Sum money of one asset (zero for nothing)."""
    result = Money.zero(asset)
    for item in items:
        result = result + item
    return result
