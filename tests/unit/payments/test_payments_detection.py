"""Detection: transfers recorded by deposit address, confirmations, reorgs, late payments, and the ledger credits."""

from datetime import timedelta

from cryptopay.core import flows
from cryptopay.core.invoices import InvoiceException, InvoiceState
from cryptopay.core.money import USDT, Money
from cryptopay.core.testing.payments import InMemoryPaymentCredits
from cryptopay.core.testing.payments_stack import PaymentsStack

CUSTODY = flows.custody("tron", USDT)
MERCHANT = flows.merchant_liability("m1", USDT)
FEES = "revenue:merchant_fee:USDT"


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


def credits(stack: PaymentsStack) -> InMemoryPaymentCredits:
    repository = stack.storage.repositories["payment_credits"]
    assert isinstance(repository, InMemoryPaymentCredits)
    return repository


def test_a_full_payment_goes_processing_then_settled_and_is_credited_once(stack: PaymentsStack) -> None:
    """100 USDT paid: processing when seen, settled and booked (custody / merchant net / fee) when confirmed."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    transfer = stack.pay(invoice.id)
    stack.sync()
    assert stack.invoice(invoice.id).state is InvoiceState.PROCESSING
    assert stack.balance(CUSTODY) == usdt("0") and stack.books_balanced()
    stack.confirm(2)
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED
    assert (stack.balance(CUSTODY), stack.balance(MERCHANT), stack.balance(FEES)) == (
        usdt("100"),
        usdt("99"),
        usdt("1"),
    )
    stack.detection.record_chain_transfers("tron", [transfer])  # seen again by a rescan
    stack.confirm(1)
    assert stack.balance(CUSTODY) == usdt("100") and len(credits(stack).all()) == 1
    assert stack.topics() == [
        "invoice.created",
        "invoice.payment_received",
        "invoice.processing",
        "invoice.payment_confirmed",
        "invoice.settled",
    ]
    assert {"invoice.payment_credited"} <= {r.action for r in stack.storage.audit_records()}
    assert stack.books_balanced()


def test_only_the_deposit_address_matters(stack: PaymentsStack) -> None:
    """Two invoices of the same amount are told apart by address; a transfer to a stranger's address is ignored."""
    first = stack.invoicing.create_invoice("m1", usdt("10"))
    second = stack.invoicing.create_invoice("m1", usdt("10"))
    stack.pay(second.id)
    stray = stack.chains["tron"].pay("TStrangerAddressxxxxxxxxxxxxxxxxx", usdt("10"))
    report = stack.detection.record_chain_transfers("tron", [stray])
    stack.confirm(3)
    assert report.ignored == (stray,)
    assert stack.invoice(first.id).state is InvoiceState.NEW
    assert stack.invoice(second.id).state is InvoiceState.SETTLED


def test_underpayment_within_tolerance_settles(stack: PaymentsStack) -> None:
    """99.50 of 100 with a 1% tolerance settles, marked paid_under_tolerated (0.50 short); the merchant gets what
    was paid, less fee."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.pay(invoice.id, usdt("99.5"))
    stack.confirm(3)
    settled = stack.invoice(invoice.id)
    assert (settled.state, settled.exception) == (InvoiceState.SETTLED, InvoiceException.PAID_UNDER_TOLERATED)
    assert settled.shortfall() == usdt("0.5")
    assert stack.balance(CUSTODY) == usdt("99.5")


def test_underpayment_beyond_tolerance_is_partial_then_expires_and_is_still_credited(stack: PaymentsStack) -> None:
    """90 of 100 is paid_partial, expires with the window, and the 90 received are credited all the same."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.pay(invoice.id, usdt("90"))
    stack.confirm(3)
    assert stack.invoice(invoice.id).exception is InvoiceException.PAID_PARTIAL
    stack.tick(minutes=15)
    expired = stack.invoice(invoice.id)
    assert (expired.state, expired.exception) == (InvoiceState.EXPIRED, InvoiceException.PAID_PARTIAL)
    assert stack.balance(CUSTODY) == usdt("90") and stack.balance(MERCHANT) == usdt("89.1")
    assert {"invoice.paid_partial", "invoice.expired"} <= set(stack.topics())


def test_overpayment_is_flagged_and_credited_in_full(stack: PaymentsStack) -> None:
    """120 of 100 settles as paid_over; all 120 are booked."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.pay(invoice.id, usdt("120"))
    stack.confirm(3)
    paid = stack.invoice(invoice.id)
    assert (paid.state, paid.exception) == (InvoiceState.SETTLED, InvoiceException.PAID_OVER)
    assert stack.balance(CUSTODY) == usdt("120") and stack.books_balanced()


def test_a_late_payment_inside_the_monitoring_window_is_credited_and_flagged(stack: PaymentsStack) -> None:
    """Paid 5 minutes after expiry: the invoice stays expired, is flagged paid_late, and the money is credited."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.tick(minutes=16)
    assert stack.invoice(invoice.id).state is InvoiceState.EXPIRED
    stack.clock.advance(minutes=4)
    stack.pay(invoice.id)
    stack.confirm(3)
    late = stack.invoice(invoice.id)
    assert (late.state, late.exception) == (InvoiceState.EXPIRED, InvoiceException.PAID_LATE)
    assert [c.late for c in credits(stack).all()] == [True]
    assert stack.balance(CUSTODY) == usdt("100") and "invoice.paid_late" in stack.topics()


def test_a_reorg_before_settlement_reverses_the_credit_and_the_transfer_is_credited_again_when_it_lands(
    stack: PaymentsStack,
) -> None:
    """A confirmed payment whose block is reorganised away is withdrawn and its credit reversed; mined again, it counts."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.pay(invoice.id)
    stack.confirm(3)
    assert stack.balance(MERCHANT) == usdt("99")
    dropped = stack.chains["tron"].reorg(4)  # the payment's block and the three after it
    stack.chains["tron"].mine()
    stack.sync()
    withdrawn = stack.invoice(invoice.id)
    assert withdrawn.state is InvoiceState.NEW and withdrawn.payments[0].withdrawn
    assert (stack.balance(CUSTODY), stack.balance(MERCHANT)) == (usdt("0"), usdt("0")) and stack.books_balanced()
    assert "invoice.credit_reversed" in {r.action for r in stack.storage.audit_records()}
    stack.chains["tron"].include(dropped[0])
    stack.confirm(3)
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED
    assert stack.balance(MERCHANT) == usdt("99") and [c.generation for c in credits(stack).all()] == [0, 1]
    assert stack.books_balanced()


def test_a_stalled_watcher_never_expires_a_paid_invoice(stack: PaymentsStack) -> None:
    """Paid in time but scanned 30 minutes late: expiry follows the chain's scanned time, so the invoice never expires."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.tick(minutes=1)
    stack.clock.advance(minutes=9)
    stack.pay(invoice.id)
    stack.clock.advance(minutes=30)  # the watcher is stuck: nothing is scanned meanwhile
    stack.detection.expire_invoices(stack.chain_times())
    assert stack.invoice(invoice.id).state is InvoiceState.NEW
    stack.confirm(3)
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED
    assert "invoice.expired" not in stack.topics()


def test_an_unpaid_invoice_expires_by_chain_time_and_stops_being_watched(stack: PaymentsStack) -> None:
    """With nothing paid, the invoice expires once the chain passes its deadline, and drops out after monitoring."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    address = invoice.options[0].address
    assert stack.detection.watched_addresses("tron") == [address]
    stack.tick(minutes=15)
    assert stack.invoice(invoice.id).state is InvoiceState.EXPIRED
    stack.clock.advance(hours=24)
    assert stack.detection.watched_addresses("tron") == []
    assert stack.outbox("invoice.expired")[0].payload["merchant_id"] == "m1"


def test_expiry_waits_for_a_network_nobody_has_scanned(stack: PaymentsStack) -> None:
    """Without a scanned time for the invoice's network, nothing expires."""
    invoice = stack.invoicing.create_invoice("m1", usdt("100"))
    stack.clock.advance(hours=1)
    stack.detection.expire_invoices({"ethereum": stack.clock.now()})
    assert stack.invoice(invoice.id).state is InvoiceState.NEW
    stack.detection.expire_invoices({"tron": stack.clock.now() + timedelta(seconds=1)})
    assert stack.invoice(invoice.id).state is InvoiceState.EXPIRED
