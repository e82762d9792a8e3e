"""Where M-Pesa (Daraja) posts payout results, queue timeouts and Transaction Status answers.

Each request we send to Daraja names its own callback URL ending in a fresh secret token; ``Payouts`` stores only
the token's digest and checks it, so a forged or misdirected callback moves nothing and gets a 403 problem.
Anything we accept, duplicates and results naming no payout included, is answered ``{"ResultCode": 0, ...}``, so
Daraja stops retrying. Bodies are read with numbers as ``Decimal``, never floats. An optional source allowlist
(``CRYPTOPAY_DARAJA_CALLBACK_SOURCES``: ``Services.daraja_callback_sources``) refuses callbacks from other addresses.

The paths avoid the words Daraja refuses in callback URLs ("mpesa", "safaricom"). The composition root gives
``Payouts`` the URLs ``cryptopay.adapters.bootstrap.payout_urls(<public base URL>)`` returns:
``<base>/hooks/daraja/payouts/result`` and so on.
These routes are for Daraja only: the OpenAPI document lists them under the ``internal`` tag.
"""

from __future__ import annotations

import logging

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Forbidden
from cryptopay.core.mobile_money import load_json, parse_payload
from flask import Blueprint, Response, request

from cryptopay_http.convert import json_response
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import payments
from cryptopay_http.runtime import runtime

__all__ = ["ACCEPTED", "HOOKS_PREFIX", "bp"]

bp = Blueprint("daraja_hooks", __name__)
HOOKS_PREFIX = "/hooks/daraja"  # the root's ``payout_urls(CRYPTOPAY_PUBLIC_URL)`` point here
_log = logging.getLogger("cryptopay.http.daraja")
_TAGS = ("internal",)
_ABOUT = "For Daraja only: the path ends in the request's secret token; a wrong token is a 403 problem."


@attrs.frozen
class DarajaAck:
    """What Daraja is told for every callback we accepted, a duplicate included."""

    ResultCode: int  # Daraja's field names
    ResultDesc: str


ACCEPTED = DarajaAck(0, "Accepted")


def _check_source() -> None:
    allowlist = runtime().services.daraja_callback_sources
    if allowlist is not None and not allowlist.allows(request.remote_addr):
        _log.warning("refused a Daraja callback from %s", request.remote_addr)
        raise Forbidden("callbacks are not accepted from this address")


def _handle(token: str, *, timed_out: bool) -> Response:
    _check_source()
    try:
        result = parse_payload(load_json(request.get_data(cache=True)))
    except InvalidInput as error:
        rule = request.url_rule.rule if request.url_rule else "?"  # the rule, never the path: it holds the token
        _log.warning("unreadable Daraja callback on %s: %s", rule, error.message)
        raise
    payout = payments().payouts.handle_payout_result(result, token=token, timed_out=timed_out)
    _log.info("Daraja callback %s: payout %s", result.result_code, payout.id if payout else "none matched")
    return json_response(ACCEPTED)


@bp.post(f"{HOOKS_PREFIX}/payouts/result/<token>")
@operation("Daraja: a B2C/B2B payout result", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=(403, 422))
def payout_result(token: str) -> Response:
    return _handle(token, timed_out=False)


@bp.post(f"{HOOKS_PREFIX}/payouts/timeout/<token>")
@operation("Daraja: a payout's queue timeout", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=(403, 422))
def payout_timeout(token: str) -> Response:
    return _handle(token, timed_out=True)


@bp.post(f"{HOOKS_PREFIX}/status/result/<token>")
@operation("Daraja: a Transaction Status answer", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=(403, 422))
def status_result(token: str) -> Response:
    return _handle(token, timed_out=False)


@bp.post(f"{HOOKS_PREFIX}/status/timeout/<token>")
@operation(
    "Daraja: a Transaction Status queue timeout", response=DarajaAck, tags=_TAGS, description=_ABOUT, errors=(403, 422)
)
def status_timeout(token: str) -> Response:
    return _handle(token, timed_out=True)
