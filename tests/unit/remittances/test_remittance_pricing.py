"""The price of a remittance, as properties: the sender pays just enough USDT for what the recipient receives plus
M-Pesa's charge, at the locked bid, never less and never a micro-USDT more."""

from __future__ import annotations

from decimal import Decimal

from cryptopay.core.mobile_money.limits import B2C_TARIFF
from cryptopay.core.money import KES, USDT, Money
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.remittance_stack import remittance_stack

STACK = remittance_stack()
MICRO = Decimal("0.000001")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kes=st.integers(min_value=100, max_value=250_000))
def test_an_order_in_shillings_costs_just_enough_usdt(kes):
    """usdt x bid covers the shillings and the charge, and one micro-USDT less would not."""
    order = STACK.order(amount=str(kes))
    assert order.kes == Money.of(kes, KES)
    owed = (order.kes + order.charge).amount
    assert order.usdt.amount * order.bid >= owed > (order.usdt.amount - MICRO) * order.bid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(usdt=st.decimals(min_value=Decimal("1"), max_value=Decimal("1900"), places=6))
def test_an_order_in_usdt_pays_the_most_whole_shillings_that_fit(usdt):
    """What is sent, at the bid, pays the most whole shillings that fit with the charge on them (at their band)."""
    order = STACK.order(amount=str(usdt), asset="USDT")
    assert order.usdt == Money.of(usdt, USDT) and order.kes.amount == order.kes.amount.to_integral_value()
    worth = (order.usdt.amount * order.bid).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    assert order.charge == B2C_TARIFF.charge(order.kes)  # at the band of what is sent
    assert Decimal(0) <= worth - (order.kes + order.charge).amount
    more = order.kes + Money.of(1, KES)  # one shilling more, with its own charge, would not fit
    assert (more + B2C_TARIFF.charge(more)).amount > worth
