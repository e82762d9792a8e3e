"""The mobile-money gateway port: M-Pesa Daraja's products as one ``Protocol``.

Every call validates its request first (the request values do) and returns Daraja's synchronous answer;
results arrive later at the request's URLs, to be parsed with ``cryptopay.core.mobile_money.parse_payload``.

A payout (B2C) runs like this: choose a unique ``originator_conversation_id`` (our idempotency key) and store it
with the held funds, call ``b2c``, then settle on the Result posted to ``result_url``. If ``b2c`` raises
``OutcomeUnknown`` (the request may have reached Daraja), or no result arrives by a deadline, or the
``timeout_url`` is hit, call ``transaction_status`` with that same id and settle on its result
(``status_outcome``). Never submit a second B2C for the same payout until the status says NOT_FOUND.
"""

from __future__ import annotations

from typing import Protocol

from cryptopay.core.mobile_money.requests import (
    AccountBalanceRequest,
    B2BRequest,
    B2CRequest,
    C2BRegistration,
    ReversalRequest,
    StkPushRequest,
    TransactionStatusRequest,
)
from cryptopay.core.mobile_money.results import Acknowledgement, MpesaResult, StkPushAccepted

__all__ = ["MobileMoneyGateway"]


class MobileMoneyGateway(Protocol):
    """M-Pesa: prompts, payouts, bill payments, queries. Raises ``MpesaError`` subclasses on refusal."""

    def stk_push(self, request: StkPushRequest) -> StkPushAccepted:
        """Prompt the customer's phone; the answer arrives on ``request.callback_url``."""
        ...

    def stk_query(self, checkout_request_id: str) -> MpesaResult:
        """Ask how an STK push ended; ``Outcome.PENDING`` while the prompt is still open."""
        ...

    def b2c(self, request: B2CRequest) -> Acknowledgement:
        """Pay a customer once per ``originator_conversation_id``; a repeat raises ``MpesaDuplicateRequest``."""
        ...

    def b2b(self, request: B2BRequest) -> Acknowledgement:
        """Pay a paybill or a till from our shortcode."""
        ...

    def transaction_status(self, request: TransactionStatusRequest) -> Acknowledgement:
        """Ask what became of a transaction; the answer is a Result posted to ``request.result_url``."""
        ...

    def account_balance(self, request: AccountBalanceRequest) -> Acknowledgement:
        """Ask for our shortcode's balances; the answer is a Result posted to ``request.result_url``."""
        ...

    def reversal(self, request: ReversalRequest) -> Acknowledgement:
        """Reverse a completed transaction; the answer is a Result posted to ``request.result_url``."""
        ...

    def register_c2b_urls(self, request: C2BRegistration) -> Acknowledgement:
        """Tell Daraja where to send customer-initiated (C2B) payments to our paybill."""
        ...
