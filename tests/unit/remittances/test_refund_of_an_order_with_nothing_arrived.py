"""An operator's refund of an order that received nothing confirmed is refused and changes nothing (review readrev)."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import Refused
from cryptopay.core.remittances import RemittanceState

from tests.support.remittance_stack import remittance_stack


def _audited(stack, order) -> list[str]:
    with stack.wallet.backend.uow() as uow:
        return [r.action for r in uow.audit.about([f"remittance:{order.id}"])]


def test_refunding_an_unpaid_order_is_refused_and_the_worker_still_pays_the_others() -> None:
    """Nothing arrived for an order awaiting payment: its refund is ``Refused`` with the order still awaiting payment
    and nothing audited (before, the order was left ``refunding`` and every worker run raised, so another paid order
    was never paid out)."""
    stack = remittance_stack()
    unpaid, paid = stack.order(), stack.order(phone="0712345679")
    with pytest.raises(Refused, match="nothing"):
        stack.remittances.refund(unpaid.id, actor="ops:a")
    assert stack.get(unpaid).state is RemittanceState.AWAITING_PAYMENT
    assert "remittance.refunding" not in _audited(stack, unpaid)
    stack.pay(paid)
    stack.confirm()
    stack.run()
    assert stack.get(paid).state is RemittanceState.PAID_OUT
    assert stack.get(unpaid).state is RemittanceState.AWAITING_PAYMENT


def test_refunding_an_expired_order_with_nothing_received_is_refused_and_it_stays_expired() -> None:
    """An order that expired with nothing received has nothing to refund: ``Refused``, still ``expired``."""
    stack = remittance_stack()
    order = stack.order()
    stack.clock.advance(minutes=31)
    stack.confirm(2)
    stack.run()
    assert stack.get(order).state is RemittanceState.EXPIRED
    with pytest.raises(Refused, match="nothing"):
        stack.remittances.refund(order.id, actor="ops:a")
    assert stack.get(order).state is RemittanceState.EXPIRED
    stack.run()
    assert stack.get(order).state is RemittanceState.EXPIRED
