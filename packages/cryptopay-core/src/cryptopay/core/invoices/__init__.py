"""Invoices: a merchant's request to be paid, its payment options, and the state its payments make of it.

State (new, processing, settled, expired, invalid, cancelled) and an orthogonal exception (none, paid_partial,
paid_under_tolerated: settled short within the store's tolerance, paid_over, paid_late, marked). Transfers are
matched by the invoice's own deposit address, never by sender or amount, and recorded idempotently by
``(network, tx_hash, index)``.
"""

from cryptopay.core.invoices.invoice import Invoice, InvoiceReceivedPayment, TransferKey
from cryptopay.core.invoices.status import Tally, derive_status, is_confirmed, tally
from cryptopay.core.invoices.values import (
    DEFAULT_INVOICE_WINDOW,
    DEFAULT_MONITORING_WINDOW,
    InvoiceEvent,
    InvoiceException,
    InvoicePayment,
    InvoiceState,
    PaymentOption,
    amount_due,
)

__all__ = [
    "DEFAULT_INVOICE_WINDOW",
    "DEFAULT_MONITORING_WINDOW",
    "Invoice",
    "InvoiceEvent",
    "InvoiceException",
    "InvoicePayment",
    "InvoiceReceivedPayment",
    "InvoiceState",
    "PaymentOption",
    "Tally",
    "TransferKey",
    "amount_due",
    "derive_status",
    "is_confirmed",
    "tally",
]
