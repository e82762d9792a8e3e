"""Refunds of overpayments and late payments: a held withdrawal to the customer's address."""

import pytest
from cryptopay.adapters.bitcoin.addresses import validate_address as bitcoin_address
from cryptopay.adapters.evm.addresses import validate_address as evm_address
from cryptopay.adapters.tron.addresses import validate_address as tron_address
from cryptopay.core import flows
from cryptopay.core.errors import InvalidInput, Refused
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments import RefundState
from cryptopay.core.payments.refunds import refuse_burn_address, withdrawals_in_flight
from cryptopay.core.ports.chains import TxState
from cryptopay.core.testing.payments_stack import PaymentsStack

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
MERCHANT = flows.merchant_liability("m1", USDT)
CUSTODY = flows.custody("tron", USDT)


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


def overpaid(stack: PaymentsStack) -> str:
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.pay(invoice.id, usdt("120"))
    stack.confirm(3)
    return invoice.id


def test_an_overpayment_is_refunded_from_the_merchant_balance_and_custody(stack: PaymentsStack) -> None:
    """20 USDT over: held from the merchant, sent once, and on confirmation paid out of custody."""
    invoice_id = overpaid(stack)
    assert stack.refunds.owed(invoice_id, "usdt-tron") == usdt("20")
    assert stack.refunds.refundable(invoice_id, "usdt-tron") == usdt("120")
    refund = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="merchant:m1")
    assert (refund.amount, refund.state) == (usdt("20"), RefundState.REQUESTED)
    assert stack.ledger.balance(MERCHANT).available == usdt("98.8")  # 118.8 credited, 20 held
    [sent] = stack.refunds.send_refunds()
    assert sent.state is RefundState.SENT and sent.tx_hash
    stack.senders["tron"].finish(refund.id, TxState.CONFIRMED)
    [done] = stack.refunds.check_refunds()
    assert done.state is RefundState.CONFIRMED
    assert (stack.balance(MERCHANT), stack.balance(CUSTODY)) == (usdt("98.8"), usdt("100"))
    assert stack.balance(withdrawals_in_flight(USDT)) == usdt("0")
    assert stack.refunds.owed(invoice_id, "usdt-tron") == usdt("0")
    assert stack.refunds.refundable(invoice_id, "usdt-tron") == usdt("100")
    assert len(stack.senders["tron"].requests) == 1 and stack.books_balanced()


def test_a_failed_refund_voids_its_hold_and_can_be_asked_again(stack: PaymentsStack) -> None:
    """A refund whose transaction fails gives the merchant the funds back and frees the refundable amount."""
    invoice_id = overpaid(stack)
    refund = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="merchant:m1", amount=usdt("5"))
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(refund.id, TxState.FAILED)
    [failed] = stack.refunds.check_refunds()
    assert failed.state is RefundState.FAILED
    assert stack.ledger.balance(MERCHANT).available == usdt("118.8")
    assert stack.refunds.owed(invoice_id, "usdt-tron") == usdt("20") and stack.books_balanced()


def test_a_late_payment_to_an_expired_invoice_is_refundable_in_full(stack: PaymentsStack) -> None:
    """All of a late payment to an expired invoice can go back to the customer."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.tick(minutes=16)
    stack.pay(invoice.id)
    stack.confirm(3)
    assert stack.refunds.owed(invoice.id, "usdt-tron") == usdt("100")
    refund = stack.refunds.refund(invoice.id, address=CUSTOMER, requested_by="ops:alice", amount=usdt("99"))
    assert refund.reason == "expired/paid_late"


def test_refunds_are_refused_beyond_what_was_received_or_while_the_invoice_is_open(stack: PaymentsStack) -> None:
    """More than received, a bad address, or an open invoice: refused, nothing held."""
    invoice_id = overpaid(stack)
    with pytest.raises(Refused, match="at most 120"):
        stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="merchant:m1", amount=usdt("120.000001"))
    with pytest.raises(InvalidInput, match="not a tron address"):
        stack.refunds.refund(invoice_id, address="0x1234", requested_by="merchant:m1")
    open_invoice = stack.invoicing.create_invoice("m1", usdt("10"))
    with pytest.raises(Refused, match="is new"):
        stack.refunds.refund(open_invoice.id, address=CUSTOMER, requested_by="merchant:m1", rail="usdt-tron")
    assert stack.ledger.balance(MERCHANT).available == usdt("118.8")


def test_a_refund_dropped_after_rebroadcast_keeps_its_hold_and_asks_for_an_operator(stack: PaymentsStack) -> None:
    """A transaction the network still drops after a rebroadcast is never re-signed; the hold stays, ops are told."""
    invoice_id = overpaid(stack)
    refund = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="merchant:m1", amount=usdt("5"))
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(refund.id, TxState.DROPPED)
    [checked] = stack.refunds.check_refunds()
    assert checked.state is RefundState.SENT and "dropped" in (checked.failure or "")
    assert stack.ledger.balance(MERCHANT).available == usdt("113.8")  # still held: it may yet land
    assert any(r.action == "refund.needs_operator" for r in stack.storage.audit_records())
    assert stack.books_balanced()


@pytest.mark.parametrize(
    ("address", "validate"),
    [
        ("0x000000000000000000000000000000000000dEaD", evm_address),
        ("0xdEAD000000000000000042069420694206942069", evm_address),
        ("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE", evm_address),
        ("0x0000000000000000000000000000000000000001", evm_address),
        ("T9yD14Nj9j7xAB4dbGeiX9h8upfCg3PBbY", tron_address),
        ("TWGcFtvfxLbXn7zzWVPnMkvxkk41PK2p1i", tron_address),
        ("1BitcoinEaterAddressDontSendf59kuE", bitcoin_address),
    ],
)
def test_common_burn_addresses_are_refused_though_well_formed(address, validate):
    """Review F4: 0x...dEaD and the other burn addresses in common use pass their network's address rules (so only
    this check stops them) and are refused, whatever their letter case."""
    validate(address)
    for written in (address, address.lower(), f" {address} "):
        with pytest.raises(InvalidInput, match="burn address"):
            refuse_burn_address(written, [])
    refuse_burn_address("0x000000000000000000000000000000000000dEaE", [])  # a neighbour is someone's
