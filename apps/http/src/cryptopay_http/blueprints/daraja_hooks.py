"""Where M-Pesa (Daraja) posts payout results, queue timeouts and Transaction Status answers.

Each request we send to Daraja names its callback URLs, each ending in its own fresh secret token (one per URL,
valid on that URL only and once); ``Payouts`` stores only the tokens' digests, committed before the request is
sent, and finds the payout by them. The order of the checks is the defence:

1. the source address, against ``CRYPTOPAY_DARAJA_CALLBACK_SOURCES`` (required in production), before the body
   is read: another address gets a 403 problem;
2. callers the allowlist does not vouch for are rate limited per address (429), still before the body is read;
3. the body is parsed (numbers as ``Decimal``; an unreadable one is a 422 problem);
4. the token: one we did not issue for this URL is a 403 problem, the same whatever the body names, and writes
   nothing, unless the allowlist vouched for the source: then the answer is kept for matching later.

Anything accepted, duplicates included, is answered ``{"ResultCode": 0, ...}``, so Daraja stops retrying. The
token is never logged: log lines name the URL rule, not the path (``cryptopay_http.logs`` also redacts any
``/hooks/daraja/...`` path a server or library logs).

The paths avoid the words Daraja refuses in callback URLs ("mpesa", "safaricom"). The composition root gives
``Payouts`` the URLs ``payout_urls(<public base URL>)`` returns: ``<base>/hooks/daraja/payouts/result`` and so on.
These routes are for Daraja only: they carry the ``internal`` tag, and the OpenAPI document leaves them out (no
client of ours calls them; the payloads are Daraja's own, spoken by ``cryptopay.sandbox``'s simulator).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

import attrs
from cryptopay.core.errors import CryptopayError, InvalidInput, Unavailable
from cryptopay.core.identity import Forbidden, RateLimited
from cryptopay.core.mobile_money import (
    SAFARICOM_CALLBACK_NETWORKS,
    MpesaResult,
    PayloadKind,
    SourceAllowlist,
    load_json,
    parse_payload,
)
from cryptopay.core.payouts.service import CallbackPurpose, PayoutUrls
from flask import Blueprint, Response, request

from cryptopay_http.auth import client_address
from cryptopay_http.convert import json_response
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import payments
from cryptopay_http.runtime import runtime

__all__ = ["ACCEPTED", "HOOKS_PREFIX", "UNVOUCHED_LIMIT_PER_MINUTE", "allowlist_from_env", "bp", "payout_urls"]

bp = Blueprint("daraja_hooks", __name__)
HOOKS_PREFIX = "/hooks/daraja"
UNVOUCHED_LIMIT_PER_MINUTE = 120  # per source address, for callers no allowlist vouches for
_log = logging.getLogger("cryptopay.http.daraja")
_TAGS = ("internal",)
_ABOUT = "For Daraja only: the path ends in the request's secret token; a wrong token is a 403 problem."
_ERRORS = (403, 422, 429, 503)
_NOT_HERE = "M-Pesa callbacks are not accepted here"
T = TypeVar("T")


@attrs.frozen
class DarajaAck:
    """What Daraja is told for every callback we accepted, a duplicate included."""

    ResultCode: int  # Daraja's field names
    ResultDesc: str


ACCEPTED = DarajaAck(0, "Accepted")


@attrs.frozen
class DarajaValidation:
    """The answer to a C2B validation: ``0`` lets the payment through, ``C2B000xx`` refuses it."""

    ResultCode: str  # Daraja's field names; a string here (``C2B00012``)
    ResultDesc: str


def payout_urls(public_base_url: str) -> PayoutUrls:
    """The callback URLs ``Payouts`` should give Daraja when this app is reachable at ``public_base_url``.

    >>> payout_urls("https://pay.example.com/").result
    'https://pay.example.com/hooks/daraja/payouts/result'
    """
    base = public_base_url.rstrip("/") + HOOKS_PREFIX
    return PayoutUrls(
        result=f"{base}/payouts/result",
        timeout=f"{base}/payouts/timeout",
        status_result=f"{base}/status/result",
        status_timeout=f"{base}/status/timeout",
    )


def allowlist_from_env(env: Mapping[str, str]) -> SourceAllowlist:
    """``CRYPTOPAY_DARAJA_CALLBACK_SOURCES``: comma-separated networks, or ``safaricom`` for the published ones.

    >>> allowlist_from_env({"CRYPTOPAY_DARAJA_CALLBACK_SOURCES": "safaricom"}).allows("196.201.214.200")
    True
    >>> allowlist_from_env({}).allows("203.0.113.9")
    True
    """
    text = env.get("CRYPTOPAY_DARAJA_CALLBACK_SOURCES", "").strip()
    if text.lower() == "safaricom":
        return SourceAllowlist.of(*SAFARICOM_CALLBACK_NETWORKS)
    return SourceAllowlist.of(*(part.strip() for part in text.split(",") if part.strip()))


def _allowlist() -> SourceAllowlist:
    found = runtime().services.daraja_callback_sources
    return found if found is not None else SourceAllowlist()


def _vouched_source() -> bool:
    """Refuse a source the allowlist excludes; True when an allowlist is set and vouches for this one."""
    allowlist = _allowlist()
    if not allowlist.allows(request.remote_addr):
        _log.warning("refused a Daraja callback from %s", request.remote_addr)
        raise Forbidden("callbacks are not accepted from this address")
    return bool(allowlist.networks)


def _configured(part: Callable[[], T]) -> T:
    """The use case answering Daraja; a deployment without Daraja settings tells the caller only that it is not
    accepted here (503), never which settings are missing: that goes to the server's log."""
    try:
        return part()
    except CryptopayError as error:
        _log.error("a Daraja callback arrived but M-Pesa is not configured here: %s", error.message)
        raise Unavailable(_NOT_HERE) from None


def _limit_unvouched() -> None:
    decision = runtime().services.rate_limiter.hit(
        f"daraja-hooks:{client_address()}", limit=UNVOUCHED_LIMIT_PER_MINUTE, window_seconds=60
    )
    if not decision.allowed:
        raise RateLimited(
            f"too many callbacks; retry in {decision.retry_after} seconds", retry_after=decision.retry_after
        )


def _checked_payload() -> MpesaResult:
    """The callback's body read after the source and rate checks every hook makes before its token."""
    if not _vouched_source():
        _limit_unvouched()
    return parse_payload(load_json(request.get_data(cache=True)))


def _handle(token: str, purpose: CallbackPurpose) -> Response:
    vouched = _vouched_source()
    if not vouched:
        _limit_unvouched()
    body = request.get_data(cache=True)
    rule = request.url_rule.rule if request.url_rule else "?"  # the rule, never the path: it holds the token
    try:
        result = parse_payload(load_json(body))
    except InvalidInput as error:
        _log.warning("unreadable Daraja callback on %s: %s", rule, error.message)
        raise
    raw = body.decode("utf-8", "replace")
    payouts = _configured(lambda: payments().payouts)
    try:
        payout = payouts.handle_payout_result(
            result, token=token, purpose=purpose, keep=raw if vouched else None, raw=raw
        )
    except Forbidden:
        _log.warning("refused a Daraja callback on %s from %s: unknown token", rule, request.remote_addr)
        raise
    _log.info("Daraja callback %s on %s: payout %s", result.result_code, rule, payout.id if payout else "kept")
    return json_response(ACCEPTED)


@bp.post(f"{HOOKS_PREFIX}/payouts/result/<token>")
@operation("Daraja: a B2C/B2B payout result", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=_ERRORS)
def payout_result(token: str) -> Response:
    return _handle(token, CallbackPurpose.RESULT)


@bp.post(f"{HOOKS_PREFIX}/payouts/timeout/<token>")
@operation("Daraja: a payout's queue timeout", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=_ERRORS)
def payout_timeout(token: str) -> Response:
    return _handle(token, CallbackPurpose.TIMEOUT)


@bp.post(f"{HOOKS_PREFIX}/status/result/<token>")
@operation("Daraja: a Transaction Status answer", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=_ERRORS)
def status_result(token: str) -> Response:
    return _handle(token, CallbackPurpose.STATUS_RESULT)


@bp.post(f"{HOOKS_PREFIX}/status/timeout/<token>")
@operation(
    "Daraja: a Transaction Status queue timeout", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=_ERRORS
)
def status_timeout(token: str) -> Response:
    return _handle(token, CallbackPurpose.STATUS_TIMEOUT)


def _balance_answer(token: str, *, timed_out: bool) -> Response:
    """An Account Balance answer: the same source and rate checks, then the token of a recorded query."""
    result = _checked_payload()
    balances = _configured(lambda: payments().float_balance)
    try:
        query = balances.answer(result, token=token, timed_out=timed_out)
    except Forbidden:
        _log.warning("refused an Account Balance answer from %s: unknown token", request.remote_addr)
        raise
    _log.info("Account Balance answer %s for query %s", result.result_code, query.id)
    return json_response(ACCEPTED)


@bp.post(f"{HOOKS_PREFIX}/balance/result/<token>")
@operation("Daraja: an Account Balance answer", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=_ERRORS)
def balance_result(token: str) -> Response:
    return _balance_answer(token, timed_out=False)


@bp.post(f"{HOOKS_PREFIX}/balance/timeout/<token>")
@operation(
    "Daraja: an Account Balance queue timeout", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=_ERRORS
)
def balance_timeout(token: str) -> Response:
    return _balance_answer(token, timed_out=True)


@bp.post(f"{HOOKS_PREFIX}/stk/<token>")
@operation(
    "Daraja: an STK Push callback (buying USDT)", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=_ERRORS
)
def stk_callback(token: str) -> Response:
    """The same source and rate checks as the payout hooks; the buy is found by its token alone."""
    result = _checked_payload()
    buys = _configured(lambda: runtime().services.wallet_buys)
    try:
        buy = buys.on_callback(result, token=token)
    except Forbidden:
        _log.warning("refused an STK callback from %s: unknown token", request.remote_addr)
        raise
    _log.info("STK callback %s for buy %s", result.result_code, buy.id)
    return json_response(ACCEPTED)


def _paybill_callback() -> MpesaResult:
    """A C2B callback's checks before its token: the source, the rate, the body (a C2B payload or a 422)."""
    result = _checked_payload()
    if result.kind is not PayloadKind.C2B:
        raise InvalidInput("not a C2B payment", field="TransID")
    return result


@bp.post(f"{HOOKS_PREFIX}/paybill/confirmation/<token>")
@operation(
    "Daraja: a completed payment to our paybill (C2B confirmation)",
    response=DarajaAck,
    tags=_TAGS,
    description=_ABOUT,
    errors=_ERRORS,
)
def paybill_confirmation(token: str) -> Response:
    """Recorded once per TransID, booked only once Transaction Status confirms it (``Paybill.verify_due``)."""
    result = _paybill_callback()
    paybill = _configured(lambda: runtime().services.paybill)
    try:
        payment = paybill.confirm(result, token=token)
    except Forbidden:
        _log.warning("refused a C2B confirmation from %s: unknown token", request.remote_addr)
        raise
    _log.info("C2B confirmation: paybill payment %s %s", payment.id, payment.state.value)
    return json_response(ACCEPTED)


def _paybill_answer(token: str, *, timed_out: bool, kind: str) -> Response:
    """A Transaction Status answer (``kind`` "status") or a Reversal's result ("reversal") about a paybill payment:
    the same source and rate checks, then the token recorded on the payment before the request was sent (and, for a
    reversal, the ids Daraja acknowledged); any other: a 403 that writes nothing."""
    result = _checked_payload()
    paybill = _configured(lambda: runtime().services.paybill)
    answered = paybill.on_status if kind == "status" else paybill.on_reversal
    try:
        payment = answered(result, token=token, timed_out=timed_out)
    except Forbidden:
        _log.warning("refused a paybill %s answer from %s: unknown token or request", kind, request.remote_addr)
        raise
    _log.info("paybill %s answer %s: payment %s %s", kind, result.result_code, payment.id, payment.state.value)
    return json_response(ACCEPTED)


@bp.post(f"{HOOKS_PREFIX}/paybill/status/result/<token>")
@operation(
    "Daraja: a Transaction Status answer about a paybill payment",
    response=DarajaAck,
    tags=_TAGS,
    description=_ABOUT,
    errors=_ERRORS,
)
def paybill_status_result(token: str) -> Response:
    """A completed transaction that matches the confirmation books it; not found or different: never booked."""
    return _paybill_answer(token, timed_out=False, kind="status")


@bp.post(f"{HOOKS_PREFIX}/paybill/status/timeout/<token>")
@operation(
    "Daraja: a paybill payment's Transaction Status queue timeout",
    response=DarajaAck,
    tags=_TAGS,
    description=_ABOUT,
    errors=_ERRORS,
)
def paybill_status_timeout(token: str) -> Response:
    return _paybill_answer(token, timed_out=True, kind="status")


@bp.post(f"{HOOKS_PREFIX}/paybill/reversal/result/<token>")
@operation(
    "Daraja: a Reversal result about a paybill payment returned to its payer",
    response=DarajaAck,
    tags=_TAGS,
    description=_ABOUT,
    errors=_ERRORS,
)
def paybill_reversal_result(token: str) -> Response:
    """Success marks the payment reversed; a failure (``R000002`` ...) puts it back where it waited, with the reason."""
    return _paybill_answer(token, timed_out=False, kind="reversal")


@bp.post(f"{HOOKS_PREFIX}/paybill/reversal/timeout/<token>")
@operation(
    "Daraja: a paybill payment's Reversal queue timeout",
    response=DarajaAck,
    tags=_TAGS,
    description=_ABOUT,
    errors=_ERRORS,
)
def paybill_reversal_timeout(token: str) -> Response:
    """Not a failure: Transaction Status is asked what became of the reversal."""
    return _paybill_answer(token, timed_out=True, kind="reversal")


@bp.post(f"{HOOKS_PREFIX}/paybill/validation/<token>")
@operation(
    "Daraja: may a payment to our paybill go through (C2B validation)",
    response=DarajaAck,
    tags=_TAGS,
    description=_ABOUT,
    errors=_ERRORS,
)
def paybill_validation(token: str) -> Response:
    """``ResultCode`` ``0`` accepts; ``C2B000xx`` refuses (not our shortcode, no amount). An unknown account number
    is accepted: the payment is then held in the suspense account for an operator."""
    result = _paybill_callback()
    paybill = _configured(lambda: runtime().services.paybill)
    try:
        answer = paybill.validate(result, token=token)
    except Forbidden:
        _log.warning("refused a C2B validation from %s: unknown token", request.remote_addr)
        raise
    return json_response(DarajaValidation(str(answer["ResultCode"]), str(answer["ResultDesc"])))
