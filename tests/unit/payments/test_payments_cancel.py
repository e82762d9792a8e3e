"""Cancelling an invoice that has received nothing; a payment that still comes is credited late, never lost."""

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import InvalidState
from cryptopay.core.invoices import InvoiceException, InvoiceReceivedPayment, InvoiceState
from cryptopay.core.money import USDT, Money
from cryptopay.core.testing.payments_stack import PaymentsStack

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


def test_a_new_invoice_is_cancelled_once_with_an_event_and_an_audit_record(stack: PaymentsStack) -> None:
    """The invoice reads cancelled; cancelling again changes nothing and publishes nothing."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    cancelled = stack.invoicing.cancel_invoice(invoice.id, actor="user:u1")
    assert cancelled.state is InvoiceState.CANCELLED and cancelled.cancelled_by == "user:u1"
    assert cancelled.expires_at == stack.clock.now()
    again = stack.invoicing.cancel_invoice(invoice.id, actor="user:u1")
    assert again.state is InvoiceState.CANCELLED
    assert stack.topics().count("invoice.cancelled") == 1
    assert [r.action for r in stack.storage.audit_records() if r.action == "invoice.cancel"] == ["invoice.cancel"]


def test_an_invoice_that_received_anything_cannot_be_cancelled(stack: PaymentsStack) -> None:
    """Even an unconfirmed partial payment makes cancelling a conflict; the invoice is unchanged."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.pay(invoice.id, usdt("10"))
    stack.tick(minutes=1)
    with pytest.raises(InvoiceReceivedPayment):
        stack.invoicing.cancel_invoice(invoice.id, actor="user:u1")
    assert stack.invoice(invoice.id).cancelled_at is None and "invoice.cancelled" not in stack.topics()


def test_an_expired_invoice_cannot_be_cancelled(stack: PaymentsStack) -> None:
    """Only a new invoice can be cancelled."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.tick(minutes=16)
    with pytest.raises(InvalidState, match="only a new invoice"):
        stack.invoicing.cancel_invoice(invoice.id, actor="user:u1")


def test_a_payment_after_cancelling_is_credited_flagged_late_and_refundable(stack: PaymentsStack) -> None:
    """Detection still watches the address: the payment is credited to the merchant, paid_late, refundable in full."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.tick(minutes=1)
    stack.invoicing.cancel_invoice(invoice.id, actor="user:u1")
    stack.tick(minutes=1)
    stack.pay(invoice.id)
    stack.confirm(3)
    found = stack.invoice(invoice.id)
    assert (found.state, found.exception) == (InvoiceState.CANCELLED, InvoiceException.PAID_LATE)
    assert stack.balance(flows.merchant_liability("m1", USDT)) == usdt("99")  # credited, less the 1% fee
    assert "invoice.paid_late" in stack.topics()
    assert stack.refunds.owed(invoice.id, "usdt-tron") == usdt("100")
    refund = stack.refunds.refund(invoice.id, address=CUSTOMER, requested_by="user:u1", amount=usdt("99"))
    assert refund.reason == "cancelled/paid_late" and stack.books_balanced()
