"""A wallet's sale and bill payouts are their own kinds: their own M-Pesa remarks, no merchant webhook events, and
an operator's retry of a failed one holds from the wallet again."""

from __future__ import annotations

import pytest
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import AwaitingStatus, PayoutKind, PayoutState
from cryptopay.core.wallets.bills import Bills

from tests.support.wallet_stack import wallet_stack


@pytest.fixture
def stack():
    return wallet_stack()


def _payout_topics(stack) -> list[str]:
    return [m.topic for m in stack.backend.storage.outbox_messages() if m.topic.startswith(("payout.", "settlement."))]


def test_a_sale_is_sent_with_the_remark_sale_and_tells_no_merchant(stack):
    """The B2C of a sale says ``Sale <id>`` to M-Pesa (not ``Settlement``) and publishes no ``payout.*`` event."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    sale = stack.sells.start(amina.id, Money.of(10, USDT))
    assert sale.payout.kind is PayoutKind.SALE
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert stack.sells.get(amina.id, sale.id).state == "completed"
    assert [tx.remarks for tx in stack.mpesa.transactions() if tx.product == "b2c"] == [f"Sale {sale.id}"]
    assert _payout_topics(stack) == []


def test_a_bill_is_sent_with_the_remark_bill_and_tells_no_merchant(stack):
    """The B2B of a bill says ``Bill <id>`` and publishes no ``payout.*`` event, completed or failed."""
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "3000", "KES")
    bill = bills.pay(amina.id, "NAIROBI_WATER", "1234567", Money.of(800, KES))
    assert bill.payout.kind is PayoutKind.BILL
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert bills.get(amina.id, bill.id).state == "completed"
    assert [tx.remarks for tx in stack.mpesa.transactions() if tx.product == "b2b"] == [f"Bill {bill.id}"]
    assert _payout_topics(stack) == []


def test_an_operator_retry_of_a_failed_sale_holds_from_the_wallet_again(stack):
    """The first B2C fails (the shillings return to the wallet); the retry holds them from the wallet once more,
    is a sale too, and pays."""
    amina, sale = stack.failed_sale("0712000001")
    assert stack.balance(amina, "KES") == Money.of("1293.50", KES)
    with pytest.raises(AwaitingStatus):  # the failure came in a callback: Transaction Status confirms it first
        stack.payouts.retry_failed_payout(sale.payout.id, actor="ops@example.com")
    stack.deliver_callbacks()
    retry = stack.payouts.retry_failed_payout(sale.payout.id, actor="ops@example.com")
    assert retry.kind is PayoutKind.SALE
    assert stack.balance(amina, "KES") == Money.of("0.50", KES)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert stack.payouts.get_payout(retry.id).state is PayoutState.COMPLETED
    assert set(stack.ledger.trial_balance().values()) == {0}
