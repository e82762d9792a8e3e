"""The default amount bounds per currency (``link_amounts.LINK_AMOUNTS``): every asset an invoice can be priced in
has a row, each row fits its stated reference prices, and an invoice at a bound is made, one beyond is a 422."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import ASSETS, Money
from cryptopay.core.payments.link_amounts import (
    LINK_AMOUNTS,
    AmountAboveMaximum,
    AmountBelowMinimum,
    check_invoice_defaults,
)
from cryptopay.core.payments.model import StoreSettings
from cryptopay.core.rails import rail_for
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

# The USD reference prices the table's comments name (low, high), and a rate within them for the stack.
REFERENCE_USD = {
    "USDT": ("1", "1", "1"),
    "USDC": ("1", "1", "1"),
    "USD": ("1", "1", "1"),
    "BTC": ("60000", "120000", "97000"),
    "ETH": ("2000", "4000", "3000"),
    "BNB": ("500", "1000", "600"),
    "POL": ("0.20", "0.60", "0.40"),
    "TRX": ("0.20", "0.40", "0.25"),
}
# Each asset priced and paid in itself (no quote), on a rail of its own.
RAIL = {
    "USDT": "usdt-tron",
    "USDC": "usdc-ethereum",
    "BTC": "btc-bitcoin",
    "ETH": "eth-ethereum",
    "BNB": "bnb-bsc",
    "POL": "pol-polygon",
    "TRX": "trx-tron",
}


def _store() -> StoreSettings:
    return StoreSettings(merchant_id="m1", rails=(rail_for("tron", "USDT"),))


def test_every_asset_an_invoice_can_be_priced_in_has_default_bounds() -> None:
    """The core prices an invoice in any asset of ``money.ASSETS``: each has a row (a new asset needs one)."""
    assert set(LINK_AMOUNTS) == set(ASSETS)


@pytest.mark.parametrize("code", sorted(REFERENCE_USD))
def test_each_row_is_about_the_usdt_range_in_value_at_its_reference_prices(code: str) -> None:
    """At the lowest and highest reference price, the minimum is worth USD 1 to 15 and the maximum USD 4,000 to
    12,500: about USDT 1 to 10,000, whatever the asset's price within its stated range."""
    bounds, (low, high, _) = LINK_AMOUNTS[code], REFERENCE_USD[code]
    for price in (Decimal(low), Decimal(high)):
        assert Decimal(1) <= bounds.minimum.amount * price <= Decimal(15), (code, price)
        assert Decimal(4_000) <= bounds.maximum.amount * price <= Decimal(12_500), (code, price)


@pytest.mark.parametrize("code", sorted(LINK_AMOUNTS))
def test_a_price_at_either_bound_passes_and_one_unit_beyond_is_refused_naming_the_bound(code: str) -> None:
    """At the minimum and the maximum nothing is refused; one smallest unit below or above is a 422 (its code,
    the field ``amount``, the bound in the message, as for KES and USDT)."""
    bounds, unit = LINK_AMOUNTS[code], Decimal(1).scaleb(-ASSETS[code].decimals)
    check_invoice_defaults(LINK_AMOUNTS, bounds.minimum, _store())
    check_invoice_defaults(LINK_AMOUNTS, bounds.maximum, _store())
    beyond = {
        AmountBelowMinimum: Money.of(bounds.minimum.amount - unit, ASSETS[code]),
        AmountAboveMaximum: Money.of(bounds.maximum.amount + unit, ASSETS[code]),
    }
    for refusal, price in beyond.items():
        with pytest.raises(refusal) as refused:
            check_invoice_defaults(LINK_AMOUNTS, price, _store())
        bound = bounds.minimum if refusal is AmountBelowMinimum else bounds.maximum
        assert refused.value.http_status == 422 and refused.value.details["field"] == "amount"
        assert str(bound) in refused.value.message and "the store sets no" in refused.value.message


@pytest.fixture
def every_rail() -> PaymentsStack:
    """m1 takes each asset on a rail of its own; every asset is priced in shillings (through USD)."""
    stack = PaymentsStack(networks=("tron", "ethereum", "bsc", "polygon", "bitcoin"))
    for code, (_, _, usd) in REFERENCE_USD.items():
        if code not in ("USD", "USDT"):
            stack.rates.set(f"{code}/USD", usd)
    stack.rates.set("USD/KES", "129")
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile, rails=tuple(RAIL.values()))
    return stack


@pytest.mark.parametrize("code", sorted(RAIL))
def test_an_invoice_in_each_asset_is_made_at_its_bounds_and_refused_beyond_them(
    every_rail: PaymentsStack, code: str
) -> None:
    """Through ``create_invoice``: an invoice asking exactly the minimum or the maximum is made; one asking less or
    more is refused (422 ``amount_below_minimum`` / ``amount_above_maximum``) and nothing is stored."""
    stack, bounds, asset = every_rail, LINK_AMOUNTS[code], ASSETS[code]
    unit = Decimal(1).scaleb(-asset.decimals)
    for price, code_expected in (
        (Money.of(bounds.minimum.amount - unit, asset), "amount_below_minimum"),
        (Money.of(bounds.maximum.amount + unit, asset), "amount_above_maximum"),
    ):
        with pytest.raises(InvalidInput) as refused:
            stack.invoicing.create_invoice("m1", price, rails=[RAIL[code]])
        assert (refused.value.code, refused.value.http_status) == (code_expected, 422)
    assert stack.invoicing.list_invoices("m1") == [] and stack.topics() == []
    for price in (bounds.minimum, bounds.maximum):
        invoice = stack.invoicing.create_invoice("m1", price, rails=[RAIL[code]])
        assert invoice.options[0].due == price
    assert len(stack.invoicing.list_invoices("m1")) == 2


def test_a_store_bound_replaces_the_default_for_a_bitcoin_invoice(every_rail: PaymentsStack) -> None:
    """A store that sets its own minimum (in KES worth) decides: 0.00005 BTC (about KES 625) is its business."""
    stack = every_rail
    with stack.uow() as uow:
        store = uow.stores.get("m1")
        assert store is not None
        uow.stores.put(attrs.evolve(store, min_invoice=Decimal(100)))
    invoice = stack.invoicing.create_invoice("m1", Money.of("0.00005", "BTC"), rails=["btc-bitcoin"])
    assert invoice.price == Money.of("0.00005", "BTC")
