"""The error hierarchy: every refusal the SDK raises is a ``CryptopayError`` with a stable ``code``.

The shells map the families to transport errors: ``InvalidInput`` -> HTTP 422 / CLI exit 2,
``NotFound`` -> 404 / exit 3, ``Conflict`` -> 409 / exit 4, ``Refused`` (a business rule said no)
-> 422 / exit 5, ``Unavailable`` (a dependency failed, safe to retry later) -> 503 / exit 6.
Messages are written for people and never contain secrets.
"""

from __future__ import annotations

__all__ = [
    "AssetMismatch",
    "Conflict",
    "CryptopayError",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidInput",
    "InvalidName",
    "InvalidState",
    "LimitExceeded",
    "NotFound",
    "QuoteExpired",
    "QuoteRequired",
    "QuoteUsed",
    "Refused",
    "RowChanged",
    "ScreeningUnavailable",
    "SmsUndeliverable",
    "TransientConflict",
    "Unavailable",
    "UnbalancedEntry",
    "UnknownAsset",
]


class CryptopayError(Exception):
    """Base of every error the SDK raises on purpose."""

    code = "cryptopay_error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(CryptopayError, ValueError):
    """The caller sent something malformed; nothing was changed."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class InvalidName(InvalidInput):
    """A person's name with what a name does not have (digits, ``:``, ``/``, ``@``: a phone number, a link)."""

    code = "invalid_name"


class UnknownAsset(InvalidInput):
    code = "unknown_asset"


class AssetMismatch(InvalidInput):
    code = "asset_mismatch"


class UnbalancedEntry(InvalidInput):
    code = "unbalanced_entry"


class NotFound(CryptopayError, LookupError):
    code = "not_found"
    http_status = 404
    exit_code = 3


class Conflict(CryptopayError):
    code = "conflict"
    http_status = 409
    exit_code = 4


class RowChanged(Conflict):
    """A versioned row (an account, a merchant, an invitation, a webhook endpoint) was written by another request (or
    an operator) after this one read it: nothing was written; read it again and decide again (review11 R11-1, R11-3).
    Each repository writes only over the ``row_version`` it read; a use case retries on this family."""

    def __init__(self, what: str, row_id: str) -> None:
        super().__init__(f"the {what} was changed by another request meanwhile: nothing was changed; try again")
        self.row_id = row_id


class IdempotencyConflict(Conflict):
    """The idempotency key was used before with a different request."""

    code = "idempotency_conflict"


class InvalidState(Conflict):
    """The object is not in a state that allows this operation."""

    code = "invalid_state"


class Refused(CryptopayError):
    """A business rule refused a well-formed request."""

    code = "refused"
    http_status = 422
    exit_code = 5


class InsufficientFunds(Refused):
    code = "insufficient_funds"


class LimitExceeded(Refused):
    code = "limit_exceeded"


class MovementUnavailable(Refused):
    """A movement the party may not make now, for a reason it is not told: a compliance freeze must not be
    disclosed to its subject (tipping off, POCAMLA s.8). The message is the same neutral sentence whatever the
    reason; officers read the reason in the audit log and the console.

    >>> MovementUnavailable(MOVEMENT_UNAVAILABLE).code
    'movement_unavailable'
    """

    code = "movement_unavailable"


MOVEMENT_UNAVAILABLE = "this cannot be done on this account at the moment: contact support"


class QuoteExpired(Refused):
    code = "quote_expired"


class QuoteRequired(InvalidInput):
    """A trade that must happen at a price its owner saw (a bill paid from USDT) named no locked quote: lock one."""

    code = "quote_required"


class QuoteUsed(Conflict):
    """A single-use quote was used already (by a buy, sale or bill): lock a new one."""

    code = "quote_used"


class SmsUndeliverable(Refused):
    """The SMS provider refused this recipient (invalid, blacklisted, do-not-disturb): retrying will not help."""

    code = "sms_undeliverable"


class Unavailable(CryptopayError):
    """A dependency (database, chain node, Daraja, rate source) failed; retry later."""

    code = "unavailable"
    http_status = 503
    exit_code = 6


class ScreeningUnavailable(Unavailable):
    """No sanctions list is loaded: a screening would answer "no match" against nothing, so it refuses instead."""

    code = "screening_unavailable"


class TransientConflict(Unavailable):
    """A concurrent writer won a race (serialization failure, deadlock, duplicate key); retrying is safe."""

    code = "transient_conflict"
