"""An order whose shillings went back into USDT to refund its sender is never paid out in shillings again (review
readrev: an operator's ``retry`` of an order held after its refund failed planned a new B2C payout from the desk's
KES, which then held another order's shillings)."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.errors import Refused
from cryptopay.core.flows import merchant_liability
from cryptopay.core.mobile_money.limits import B2C_LIMITS
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.chains import TxState
from cryptopay.core.remittances import DESK, RemittanceState
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay.core.settlement.policy import PayoutLimits

from tests.support.remittance_stack import remittance_stack


def test_an_order_held_after_its_refund_failed_is_refunded_again_not_paid_out() -> None:
    """The payout failed, the USDT went back to be refunded, the refund failed: held. A retry is refused (the order
    holds USDT, not shillings) and the shillings another order waits with stay that order's."""
    stack = remittance_stack(policy=RetryPolicy(attempts=1))
    stack.remittances = attrs.evolve(
        stack.remittances, limits=PayoutLimits(part=B2C_LIMITS, per_day=Money.of(15_000, KES))
    )
    stack.refuse("254712345678")
    failing = stack.order(amount="5000")
    first, waiting = stack.order(phone="0712000777", amount="10000"), stack.order(phone="0712000777", amount="6000")
    for order in (failing, first, waiting):
        stack.pay(order)
    stack.confirm()
    stack.run(rounds=4)
    assert stack.get(waiting).payout_id is None  # its shillings wait on the desk for tomorrow
    refunding = stack.get(failing)
    assert refunding.state is RemittanceState.REFUNDING and refunding.refund_id
    for withdrawal_id in list(stack.senders["tron"].sent):
        stack.senders["tron"].finish(withdrawal_id, TxState.FAILED)
    stack.run()
    assert stack.get(failing).state is RemittanceState.HELD
    with pytest.raises(Refused, match="refund"):
        stack.remittances.retry(failing.id, actor="ops:test")
    assert stack.get(failing).state is RemittanceState.HELD
    desk = stack.ledger.balance(merchant_liability(DESK, KES)).available
    assert desk == waiting.kes + waiting.charge
