"""Taxes on the fees we charge, as versioned data (``data/fee_taxes.json``): names and rates are never code.

A tax names the fee products it applies to and its basis: ``inclusive`` (contained in the fee charged, so the
fee net of tax is what the platform keeps) or ``exclusive`` (due on top). Amounts round half up to the asset's
places. The version in force on a day is the latest whose ``effective_from`` is not after it.

>>> from datetime import date
>>> from decimal import Decimal
>>> book = fee_tax_book()
>>> taxes = book.in_force(date(2026, 1, 5))
>>> [(t.name, str(t.rate)) for t in taxes.taxes]
[('excise_duty', '0.15'), ('vat', '0.16')]
>>> [(name, str(m)) for name, m in taxes.on(Money.of("115", "KES"), "merchant_fee")]
[('excise_duty', '15.00 KES'), ('vat', '0.00 KES')]
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.money import Money

__all__ = ["FEE_PRODUCTS", "FeeTax", "FeeTaxBook", "FeeTaxes", "TaxBasis", "fee_tax_book", "parse_fee_taxes"]

FEE_PRODUCTS = ("merchant_fee", "payout_charge", "fx_spread")


class TaxBasis(enum.Enum):
    INCLUSIVE = "inclusive"  # contained in the fee charged
    EXCLUSIVE = "exclusive"  # due on top of the fee


@attrs.frozen
class FeeTax:
    name: str
    label: str
    rate: Decimal
    basis: TaxBasis
    applies_to: tuple[str, ...]


@attrs.frozen
class FeeTaxes:
    """One version of the taxes: the ones in force from ``effective_from``."""

    version: int
    effective_from: date
    taxes: tuple[FeeTax, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.taxes)

    def on(self, fee: Money, product: str) -> list[tuple[str, Money]]:
        """Each tax (in order, zero where it does not apply) on ``fee`` charged as ``product``."""
        applying = [t for t in self.taxes if product in t.applies_to]
        inclusive = sum((t.rate for t in applying if t.basis is TaxBasis.INCLUSIVE), Decimal(0))
        out = []
        for tax in self.taxes:
            if tax not in applying:
                out.append((tax.name, Money.zero(fee.asset)))
                continue
            base = fee.amount / (1 + inclusive) if tax.basis is TaxBasis.INCLUSIVE else fee.amount
            out.append((tax.name, Money.rounded(base * tax.rate, fee.asset, ROUND_HALF_UP)))
        return out


@attrs.frozen
class FeeTaxBook:
    versions: tuple[FeeTaxes, ...]

    def in_force(self, day: date) -> FeeTaxes:
        """The version in force on ``day``; ``NotFound`` before the first one."""
        found = [v for v in self.versions if v.effective_from <= day]
        if not found:
            raise NotFound(f"no fee taxes in force on {day.isoformat()}")
        return max(found, key=lambda v: (v.effective_from, v.version))


def _tax(row: Mapping[str, Any]) -> FeeTax:
    rate = Decimal(str(row["rate"]))
    if not (Decimal(0) <= rate < 1):
        raise InvalidInput(f"tax {row['name']}: a rate is a fraction from 0 to below 1")
    products = tuple(str(p) for p in row.get("applies_to", ()))
    if unknown := set(products) - set(FEE_PRODUCTS):
        raise InvalidInput(f"tax {row['name']}: unknown fee products {sorted(unknown)}")
    return FeeTax(str(row["name"]), str(row.get("label", row["name"])), rate, TaxBasis(row["basis"]), products)


def parse_fee_taxes(data: Mapping[str, Any]) -> FeeTaxBook:
    """The book from its JSON form; ``InvalidInput`` for a malformed one."""
    try:
        versions = []
        for item in data["versions"]:
            taxes = tuple(_tax(row) for row in item["taxes"])
            if len({t.name for t in taxes}) != len(taxes):
                raise InvalidInput(f"fee taxes version {item['version']} names a tax twice")
            versions.append(FeeTaxes(int(item["version"]), date.fromisoformat(str(item["effective_from"])), taxes))
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise InvalidInput(f"malformed fee taxes: {error}") from None
    names: Sequence[tuple[str, ...]] = [v.names for v in versions]
    if len(set(names)) > 1:
        # A report's columns are the taxes' names: every version names the same taxes (a rate may be 0).
        raise InvalidInput("every fee taxes version names the same taxes, in the same order")
    return FeeTaxBook(tuple(versions))


@cache
def fee_tax_book() -> FeeTaxBook:
    """The fee taxes shipped with this version of cryptopay."""
    text = resources.files("cryptopay.core.reports").joinpath("data/fee_taxes.json").read_text(encoding="utf-8")
    return parse_fee_taxes(json.loads(text))
