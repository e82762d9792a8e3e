"""The payer's view of an invoice (``core.invoices.checkout``): one phase for each thing that can happen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.invoices.checkout import Phase, checkout_status
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import rail_for

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TRON = rail_for("tron", "USDT", confirmations=3)


def _invoice() -> Invoice:
    invoice, _ = Invoice.create(
        invoice_id="inv_1", merchant_id="m_1", price=Money.of("20", "USDT"), addresses={TRON: "TXYZ"}, now=NOW
    )
    return invoice


def _paid(invoice: Invoice, amount: str, *, at: datetime = NOW, index: int = 0) -> ObservedTransfer:
    transfer = ObservedTransfer("tron", f"0x{index}", index, "TXYZ", Money.of(amount, "USDT"), 100, "0xb1", at)
    invoice.record_transfer(transfer, now=at)
    return transfer


def test_waiting_counts_down_and_expires():
    """Before anything is paid the page counts down; at the expiry it says expired, even before the job ran."""
    invoice = _invoice()
    status = checkout_status(invoice, "usdt-tron", now=NOW + timedelta(minutes=5))
    assert status.phase is Phase.WAITING and status.seconds_left == 600
    assert checkout_status(invoice, "usdt-tron", now=invoice.expires_at).phase is Phase.EXPIRED


def test_seen_then_confirming_with_progress_then_paid():
    """A full payment in a block is seen, then confirming n of 3, then paid."""
    invoice = _invoice()
    transfer = _paid(invoice, "20")
    assert checkout_status(invoice, "usdt-tron", now=NOW).phase is Phase.SEEN
    invoice.confirm_transfer(transfer.key, 2, now=NOW)
    status = checkout_status(invoice, "usdt-tron", now=NOW)
    assert (status.phase, status.confirmations, status.required) == (Phase.CONFIRMING, 2, 3)
    invoice.confirm_transfer(transfer.key, 3, now=NOW)
    assert checkout_status(invoice, "usdt-tron", now=NOW).phase is Phase.PAID


def test_overpaid_and_underpaid():
    """More than due, confirmed, is overpaid; less than due asks for exactly the rest."""
    over = _invoice()
    over.confirm_transfer(_paid(over, "25").key, 3, now=NOW)
    assert checkout_status(over, "usdt-tron", now=NOW).phase is Phase.OVERPAID
    under = _invoice()
    _paid(under, "12.5")
    status = checkout_status(under, "usdt-tron", now=NOW)
    assert status.phase is Phase.UNDERPAID and status.remaining == Money.of("7.5", "USDT")


def test_a_payment_after_the_expiry_is_paid_late_and_final():
    """A payment made after the expiry is recorded and shown as paid late; the page stops polling."""
    invoice = _invoice()
    late = invoice.expires_at + timedelta(minutes=1)
    invoice.refresh(now=late)
    assert invoice.state is InvoiceState.EXPIRED
    _paid(invoice, "20", at=late)
    status = checkout_status(invoice, "usdt-tron", now=late)
    assert status.phase is Phase.PAID_LATE and status.phase.final
