"""Merchant payments end to end: invoices, chain detection, ledger credits, settlements, payouts and refunds.

The use cases are small classes over ports (a ``PaymentsUnitOfWork`` factory, the ledger, a clock, ids, and the
pricer, address derivers, chain watchers and senders, and the M-Pesa gateway they need):

- ``Invoicing.create_invoice`` -- lock quotes, allocate fresh deposit addresses, compute the amount due per rail;
- ``Detection.record_chain_transfers`` / ``confirm_payments`` / ``expire_invoices`` -- payments, depths, reorgs, time;
- ``Settling.run_settlements`` -- convert at a locked quote and plan M-Pesa payouts, at each merchant's cut-off;
- ``Payouts.submit_payouts`` / ``handle_payout_result`` / ``query_stale_payouts`` / ``retry_failed_payout``;
- ``Refunds.refund`` / ``send_refunds`` / ``check_refunds``.

Each change is one transaction with its ledger entries, its audit records and its outbox messages.
"""

from cryptopay.core.payments.model import DepositAddress, PaymentCredit, Refund, RefundState, StoreSettings, address_key
from cryptopay.core.payments.payout import Payout, PayoutQuery, PayoutState, Settlement, SettlementState

__all__ = [
    "DepositAddress",
    "PaymentCredit",
    "Payout",
    "PayoutQuery",
    "PayoutState",
    "Refund",
    "RefundState",
    "Settlement",
    "SettlementState",
    "StoreSettings",
    "address_key",
]
