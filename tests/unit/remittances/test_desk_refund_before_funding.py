"""A manual refund on a remittance desk invoice settled but not yet funded by the worker leaves the order's price."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import Refused
from cryptopay.core.flows import merchant_liability
from cryptopay.core.money import USDT, Money
from cryptopay.core.remittances import DESK, RemittanceState

from tests.support.remittance_stack import remittance_stack

OTHER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def test_a_refund_between_settlement_and_funding_never_takes_the_orders_price() -> None:
    """Two orders paid and their invoices settled, the worker not yet run: a refund of one order's price is refused
    (it is spoken for), 1 USDT sent beyond it is refundable, and the worker then funds and pays out both orders from
    their own coins (before, the refund was held and the next advance failed on the desk's balance)."""
    stack = remittance_stack()
    first, order = stack.order(amount="1500"), stack.order(amount="1500")
    for each in (first, order):
        stack.pay(each)
    stack.pay(order, Money.of("1", USDT))
    stack.confirm()
    assert stack.get(order).state is RemittanceState.AWAITING_PAYMENT
    assert stack.refunds.refundable(order.invoice_id, "usdt-tron") == order.usdt + Money.of("1", USDT)
    with pytest.raises(Refused, match="keeps for its payout"):
        stack.refunds.refund(
            order.invoice_id, address=OTHER, requested_by="ops:test", rail="usdt-tron", amount=order.usdt
        )
    extra = stack.refunds.refund(
        order.invoice_id, address=OTHER, requested_by="ops:test", rail="usdt-tron", amount=Money.of("1", USDT)
    )
    stack.run()
    assert [stack.get(o).state for o in (first, order)] == [RemittanceState.PAID_OUT] * 2
    assert stack.refunds.get_refund(extra.id).state.value == "sent"
    assert stack.ledger.balance(merchant_liability(DESK, USDT)).available.is_zero() and stack.books_balanced()
