"""Merchant payments: invoices, chain detection, ledger credits and refunds.

The use cases are small classes over ports (a ``PaymentsUnitOfWork`` factory, the ledger, a clock, ids, and the
pricer, address derivers, chain watchers and senders, and the M-Pesa gateway they need):

- ``Invoicing.create_invoice`` -- lock quotes, allocate fresh deposit addresses, compute the amount due per rail;
- ``Detection.record_chain_transfers`` / ``confirm_payments`` / ``expire_invoices`` -- payments, depths, reorgs, time;
- ``Refunds.refund`` / ``send_refunds`` / ``check_refunds``.

Settling a merchant's balance and paying it out are ``cryptopay.core.settlement`` (``Settling``) and
``cryptopay.core.payouts`` (``Payouts``).

Each change is one transaction with its ledger entries, its audit records and its outbox messages.
"""

from cryptopay.core.payments.model import DepositAddress, PaymentCredit, Refund, RefundState, StoreSettings, address_key

__all__ = [
    "DepositAddress",
    "PaymentCredit",
    "Refund",
    "RefundState",
    "StoreSettings",
    "address_key",
]
