"""What M-Pesa answered: synchronous acknowledgements and the normalised view of any Daraja payload."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs
from cryptopay.core.mobile_money.limits import shillings
from cryptopay.core.money import Money

__all__ = ["Acknowledgement", "MpesaResult", "Outcome", "PayloadKind", "StkPushAccepted"]


class PayloadKind(enum.Enum):
    STK_CALLBACK = "stk_callback"
    STK_QUERY = "stk_query"
    RESULT = "result"  # B2C, B2B, Transaction Status, Account Balance, Reversal
    C2B = "c2b"
    ERROR = "error"
    ACKNOWLEDGEMENT = "acknowledgement"  # the synchronous "accepted for processing" answer
    REQUEST = "request"  # one of our own request bodies (seen in logs and documentation)


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # not decided yet: ask again later
    ACCEPTED = "accepted"  # a request was accepted; its result comes asynchronously
    NOT_FOUND = "not_found"  # a status query found no such transaction
    NONE = "none"  # the payload carries no outcome (a request body)


@attrs.frozen(kw_only=True)
class StkPushAccepted:
    """Daraja accepted an STK push; the customer's answer arrives on the callback (or via ``stk_query``)."""

    merchant_request_id: str
    checkout_request_id: str
    response_code: str = "0"
    description: str = ""
    customer_message: str = ""


@attrs.frozen(kw_only=True)
class Acknowledgement:
    """Daraja accepted a B2C/B2B/status/balance/reversal/C2B-registration request; the result comes later."""

    originator_conversation_id: str | None
    conversation_id: str | None
    response_code: str = "0"
    description: str = ""


@attrs.frozen(kw_only=True)
class MpesaResult:
    """One Daraja payload, normalised: amounts as KES Money, phones in ``2547…`` form, times in Nairobi."""

    kind: PayloadKind
    outcome: Outcome
    result_code: str | None
    result_desc: str
    reference: str | None = None
    receipt: str | None = None
    amount: Money | None = None
    phone: str | None = None
    occurred_at: datetime | None = None
    merchant_request_id: str | None = None
    checkout_request_id: str | None = None
    originator_conversation_id: str | None = None
    conversation_id: str | None = None
    transaction_id: str | None = None
    request_id: str | None = None
    account_reference: str | None = None
    parameters: tuple[tuple[str, str | None], ...] = ()

    @property
    def success(self) -> bool:
        """True when the payload reports a completed (or accepted) operation."""
        return self.outcome in (Outcome.SUCCEEDED, Outcome.ACCEPTED)

    def param(self, key: str) -> str | None:
        """The first ResultParameter / CallbackMetadata value named ``key``, as text."""
        for name, value in self.parameters:
            if name == key:
                return value
        return None

    @property
    def identity_keys(self) -> tuple[str, ...]:
        """Every id that names this event, for de-duplicating repeated callbacks."""
        candidates = (
            ("checkout", self.checkout_request_id),
            ("originator", self.originator_conversation_id),
            ("conversation", self.conversation_id),
            ("receipt", self.receipt),
        )
        # Not prefixed by kind: a receipt number is unique across M-Pesa, so a late B2C result and the status
        # result that already confirmed the same receipt are one event.
        return tuple(f"{name}:{value}" for name, value in candidates if value)

    def _first_parameters(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for key, value in self.parameters:
            found.setdefault(key, value)
        return found

    def to_json(self) -> dict[str, Any]:
        """The CLI/HTTP view: amounts as whole-shilling strings, times in ISO 8601 with ``+03:00``."""
        return {
            "kind": self.kind.value,
            "success": self.success,
            "outcome": self.outcome.value,
            "result_code": self.result_code,
            "result_desc": self.result_desc,
            "receipt": self.receipt,
            "amount": shillings(self.amount) if self.amount is not None else None,
            "phone": self.phone,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "reference": self.reference,
            "merchant_request_id": self.merchant_request_id,
            "checkout_request_id": self.checkout_request_id,
            "originator_conversation_id": self.originator_conversation_id,
            "conversation_id": self.conversation_id,
            "transaction_id": self.transaction_id,
            "request_id": self.request_id,
            "account_reference": self.account_reference,
            "parameters": self._first_parameters(),
        }
