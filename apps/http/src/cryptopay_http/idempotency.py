"""``Idempotency-Key`` for POSTs that move money: a retry gets the first response, never a second effect.

Keys are scoped per principal. The same key with the same request replays the stored response (with
``Idempotent-Replayed: true``); with a different request it is a 409 ``idempotency_conflict``; while the first
request is still running a duplicate gets a 409 ``idempotency_in_flight``. Responses with status >= 500 and crashes
are not stored, so the client may retry them. Do not use it on views whose response carries a secret.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import ParamSpec

from cryptopay.core.errors import Conflict, CryptopayError, IdempotencyConflict
from cryptopay.core.identity import StoredResponse
from flask import Response, current_app, make_response, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from cryptopay_http.auth import current_principal
from cryptopay_http.openapi import annotate
from cryptopay_http.runtime import runtime

__all__ = ["HEADER", "IdempotencyInFlight", "idempotent"]

HEADER = "Idempotency-Key"
P = ParamSpec("P")


class IdempotencyInFlight(Conflict):
    """A request with the same idempotency key is still being processed."""

    code = "idempotency_in_flight"


def _request_hash() -> str:
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode() if raw else b""
    except ValueError:
        body = raw
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()


def _key() -> str:
    key = request.headers.get(HEADER, "")
    if not key:
        raise BadRequest(f"this operation needs an {HEADER} header (a unique string per intended operation)")
    if len(key) > 255 or not key.isascii() or not key.isprintable():
        raise BadRequest(f"the {HEADER} header must be 1 to 255 printable ASCII characters")
    return key


def _replay(stored: StoredResponse) -> Response:
    response = Response(
        stored.body, status=stored.status, headers=list(stored.headers), content_type=stored.content_type
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _run(view: Callable[P, ResponseReturnValue], *args: P.args, **kwargs: P.kwargs) -> Response:
    try:
        return make_response(view(*args, **kwargs))
    except CryptopayError as error:  # a refusal is a result too: store it like a success
        return make_response(current_app.handle_user_exception(error))


def idempotent(view: Callable[P, ResponseReturnValue]) -> Callable[P, Response]:
    """Make a view idempotent under the ``Idempotency-Key`` header (required). Place it below ``require``."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        key, scope, store = _key(), current_principal().idempotency_scope, runtime().services.idempotency
        request_hash = _request_hash()
        existing = store.begin(scope, key, request_hash=request_hash, at=runtime().services.clock.now())
        if existing is not None:
            if existing.request_hash != request_hash:
                raise IdempotencyConflict(f"this {HEADER} was already used with a different request")
            if existing.response is None:
                raise IdempotencyInFlight(f"a request with this {HEADER} is still being processed; retry shortly")
            return _replay(existing.response)
        try:
            response = _run(view, *args, **kwargs)
        except BaseException:
            store.release(scope, key)
            raise
        if response.status_code >= 500:
            store.release(scope, key)
            return response
        kept = tuple((k, v) for k, v in response.headers.items() if k.lower() == "location")
        store.complete(
            scope,
            key,
            StoredResponse(response.status_code, response.get_data(as_text=True), response.content_type or "", kept),
        )
        return response

    parameter = {"name": HEADER, "in": "header", "required": True, "schema": {"type": "string", "maxLength": 255}}
    return annotate(wrapper, parameters=(parameter,), errors=(400, 409))
