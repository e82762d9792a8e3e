"""RFC 9457 problem details for every error: domain errors by their ``http_status``/``code``, HTTP errors, crashes.

A problem carries ``type``, ``title``, ``status``, ``detail``, ``instance`` and our ``code``; validation problems add
``errors`` (one ``{"field", "detail"}`` per bad field). Unexpected exceptions become a bare 500 with an ``error_id``
that is also logged with the traceback; no exception text or stack trace ever reaches the client.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import traceback
from http import HTTPStatus
from typing import Any

from cryptopay.core.errors import (
    CryptopayError,
    InsufficientFunds,
    InvalidInput,
    LimitExceeded,
    TransientConflict,
    Unavailable,
)
from cryptopay.core.identity import RateLimited
from cryptopay.core.kyc.applications import DocumentsNotReviewed, IdInUse
from cryptopay.core.payments.model import PaymentLinkBusy
from cryptopay.core.redaction import redact
from cryptopay.core.wallets.buys import PromptOpen
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from cryptopay_http.convert import ValidationFailed
from cryptopay_http.runtime import runtime

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem", "retry_after"]

PROBLEM_JSON = "application/problem+json"
# RFC 9110 11.6.1: a 401 names the scheme to use (access tokens and API keys are both Bearer credentials).
CHALLENGE = 'Bearer realm="cryptopay"'
_log = logging.getLogger("cryptopay.http")
UNAVAILABLE_RETRY_AFTER = "5"  # seconds: a dependency that failed (a Redis or database restart) is back in a few


def problem(
    status: int, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """A problem+json response; ``type`` is ``urn:cryptopay:problem:<code>`` for every problem, plain HTTP errors
    too (their ``code`` the status phrase in snake case): one ``type`` per ``code`` (review3 I19)."""
    title = HTTPStatus(status).phrase
    code = code or title.lower().replace(" ", "_").replace("-", "_")
    body: dict[str, Any] = {
        "type": f"urn:cryptopay:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": redact(request.path),  # a Daraja hook's path ends in its secret token
        "code": code,
        **extra,
    }
    return Response(json.dumps(body), status=status, headers=headers, mimetype=PROBLEM_JSON)


def retry_after(error: CryptopayError) -> str | None:
    """The ``Retry-After`` of a refusal that says when to try again (seconds), on the API's problem and a page's 429
    alike: a rate limit's or a busy payment link's wait, 1 for a race lost beyond the retries (nothing written,
    the key not used up), and ``UNAVAILABLE_RETRY_AFTER`` for any other 503 (a dependency down: the rate limiter's
    Redis, the database); None for any other refusal."""
    if isinstance(error, RateLimited | PaymentLinkBusy):
        return str(error.retry_after)
    if isinstance(error, TransientConflict):
        return "1"
    if isinstance(error, Unavailable):
        return UNAVAILABLE_RETRY_AFTER
    return None


def _domain_error(error: CryptopayError) -> Response:
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, ValidationFailed):
        extra["errors"] = [{"field": e.field, "detail": e.detail} for e in error.errors]
    elif "field" in error.details:
        extra["errors"] = [{"field": str(error.details["field"]), "detail": error.message}]
    wait = retry_after(error)
    if wait is not None:
        headers["Retry-After"] = wait
    if isinstance(error, LimitExceeded):  # which limit refused, and what it still allows (KES), for the client
        # possible_from: the Nairobi day the limit allows it again; minimum, open_remaining and
        # new_numbers_remaining_today: an invite_limit's (a send to a number with no wallet)
        named = ("limit", "remaining", "possible_from", "minimum", "open_remaining", "new_numbers_remaining_today")
        extra.update({k: error.details[k] for k in named if error.details.get(k) is not None})
    if isinstance(error, InvalidInput) and error.details.get("minimum") is not None:  # the least the amount may be
        extra["minimum"] = error.details["minimum"]
    if error.code == "amount_not_payable":  # the nearest amounts M-Pesa can pay whole with its charge (KES)
        extra.update({k: error.details[k] for k in ("payable_below", "payable_above") if k in error.details})
    if isinstance(error, InsufficientFunds):  # what the balance holds and what was asked: never the account's code
        extra.update({k: error.details[k] for k in ("available", "needed") if error.details.get(k) is not None})
    if isinstance(error, PromptOpen):  # the buy whose STK prompt is still open on the phone
        extra["buy_id"] = error.details.get("buy_id")
    if isinstance(error, IdInUse):  # the other accounts that gave the ID (only officers approve)
        extra["accounts"] = error.details.get("accounts", [])
    if isinstance(error, DocumentsNotReviewed):  # what the approving officer has still to read
        extra["unread"] = error.details.get("unread", [])
    if error.details.get("account") is not None:  # a ledger refusal's account: for the logs, never the caller
        _log.info("refused %s on ledger account %s", error.code, error.details["account"])
    if error.http_status == 401:
        headers["WWW-Authenticate"] = CHALLENGE
    if error.http_status >= 500:
        _log.warning("request failed: %s (%s)", error.code, type(error).__name__)
    return problem(error.http_status, error.message, code=error.code, headers=headers, **extra)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after", "www-authenticate")}
    if status == 401:
        headers.setdefault("WWW-Authenticate", CHALLENGE)
    detail = error.description if status != 404 else "no resource at this address"
    return problem(status, detail or HTTPStatus(status).phrase, headers=headers)


_URL_CREDENTIALS = re.compile(r"(\w+://[^:/@\s]+:)[^@\s]+@")


def _redacted_traceback(error: Exception) -> str:
    """The traceback with the token-signing keys and URL passwords masked (exception texts can quote them)."""
    text = "".join(traceback.format_exception(error))
    for key in runtime().settings.token_keys.values():
        text = text.replace(key.decode(), "<redacted>")
    return _URL_CREDENTIALS.sub(r"\1<redacted>@", text)


def _crash(error: Exception) -> Response:
    error_id = secrets.token_hex(8)
    trace = _redacted_traceback(error)
    _log.error("unhandled error %s on %s %s\n%s", error_id, request.method, request.path, trace)
    return problem(500, "an unexpected error occurred; quote error_id when reporting it", error_id=error_id)


def install_problem_handlers(app: Flask) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.register_error_handler(CryptopayError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _crash)
