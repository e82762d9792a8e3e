"""Typed errors for Daraja's synchronous error envelopes ``{requestId, errorCode, errorMessage}``.

Each error says whether resending the same request is safe (``retry_safe``): only when Daraja certainly did
not act on it (an expired token, throttling). Anything that may have reached Daraja and moved money is
``OutcomeUnknown``: confirm with a status query, never resend blindly.

>>> error = error_for_envelope("500.003.02", "Spike arrest violation", "r-1")
>>> type(error).__name__, error.retry_safe
('MpesaThrottled', True)
"""

from __future__ import annotations

from cryptopay.core.errors import Conflict, CryptopayError, InvalidInput, Refused, Unavailable

__all__ = [
    "INVALID_TOKEN",
    "MpesaAuthFailed",
    "MpesaBadRequest",
    "MpesaDuplicateRequest",
    "MpesaError",
    "MpesaRejected",
    "MpesaStillProcessing",
    "MpesaThrottled",
    "MpesaTokenExpired",
    "MpesaUnavailable",
    "OutcomeUnknown",
    "error_for_envelope",
]

INVALID_TOKEN = "404.001.03"
THROTTLING = frozenset({"500.003.02", "500.003.03"})
DUPLICATE_ORIGINATOR = "500.002.1001"
PROCESSING_OR_CREDENTIALS = "500.001.1001"


class MpesaError(CryptopayError):
    """Daraja refused or failed a call; ``error_code`` and ``request_id`` come from its envelope."""

    code = "mpesa_error"
    retry_safe = False

    def __init__(self, message: str, *, error_code: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message, error_code=error_code, request_id=request_id)
        self.error_code = error_code
        self.request_id = request_id


class MpesaBadRequest(MpesaError, InvalidInput):
    """Daraja said a field is invalid (``400.002.02`` and friends); nothing happened."""

    code = "mpesa_bad_request"


class MpesaAuthFailed(MpesaError, Unavailable):
    """Our consumer key/secret or our credentials were refused; fix the configuration."""

    code = "mpesa_auth_failed"


class MpesaTokenExpired(MpesaError, Unavailable):
    """The access token was invalid (``404.001.03``); refresh it and resend once."""

    code = "mpesa_token_expired"
    retry_safe = True


class MpesaThrottled(MpesaError, Unavailable):
    """Spike arrest or quota violation (``500.003.02`` / ``500.003.03``); resend after a pause."""

    code = "mpesa_throttled"
    retry_safe = True


class MpesaDuplicateRequest(MpesaError, Conflict):
    """Daraja already has a request with this OriginatorConversationID: the first one reached it."""

    code = "mpesa_duplicate_request"


class MpesaStillProcessing(MpesaError, Unavailable):
    """``The transaction is being processed``: the customer has not answered the prompt yet."""

    code = "mpesa_still_processing"


class MpesaRejected(MpesaError, Refused):
    """Daraja refused a well-formed request for a business reason."""

    code = "mpesa_rejected"


class MpesaUnavailable(MpesaError, Unavailable):
    """Daraja could not be reached before it got the request, or answered with a server error."""

    code = "mpesa_unavailable"


class OutcomeUnknown(MpesaError, Unavailable):
    """The request may have reached Daraja but no answer came back: confirm by a status query, do not resend."""

    code = "mpesa_outcome_unknown"

    def __init__(self, message: str, *, reference: str | None = None, **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.reference = reference


def error_for_envelope(error_code: str, message: str, request_id: str | None = None) -> MpesaError:
    """The typed error for one Daraja error envelope."""
    text = f"Daraja {error_code}: {message}"
    cls: type[MpesaError]
    if error_code == INVALID_TOKEN:
        cls = MpesaTokenExpired
    elif error_code in THROTTLING:
        cls = MpesaThrottled
    elif error_code == DUPLICATE_ORIGINATOR:
        cls = MpesaDuplicateRequest
    elif error_code == PROCESSING_OR_CREDENTIALS:
        cls = MpesaStillProcessing if "being processed" in message.lower() else MpesaAuthFailed
    elif error_code.startswith("400."):
        cls = MpesaBadRequest
    elif error_code.startswith(("401.", "404.")):
        cls = MpesaAuthFailed
    elif error_code.startswith("5"):
        cls = MpesaUnavailable
    else:
        cls = MpesaRejected
    return cls(text, error_code=error_code, request_id=request_id)
