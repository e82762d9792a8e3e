"""``Idempotency-Key`` for POSTs that move money: a retry gets the first response, never a second effect.

One rule everywhere: a key is 1 to 255 printable ASCII characters (else 400), and it is scoped to the merchant the
caller acts for (a merchant's user token and its API keys share keys; callers without a merchant have their own).
The same key with the same request replays the stored response (with ``Idempotent-Replayed: true``, and the
headers of the first answer that describe it, ``REPLAYED_HEADERS``: e.g. ``Location`` and a deprecated amount
shape's ``Deprecation``, ``Sunset`` and ``Link``; a request id and rate limit are the retry's own); with a
different request it is a 409 ``idempotency_conflict``; while the first request is still running a duplicate gets a
409 ``idempotency_in_flight``. A request refused as malformed or invalid (400, 415, 422 ``InvalidInput``) does not
consume its key, nor do responses with status >= 500 and crashes, so the client may fix or retry them, nor an answer
that says to come back later (``_retry_later``: a 429 or any refusal with ``Retry-After``, e.g. a wallet's send pace
or a busy payment link; review7 F4): the documented habit, waiting ``Retry-After`` and resending the same request
with the same key, then gets the real answer instead of the stale 429 forever. Other business refusals are results
and are replayed. Do not use it on views whose response carries a secret.

A route without credentials (``idempotent_in``: a payment link's invoices, a remittance order) has no caller to
scope keys to: every customer of a link shares its scope, so a key is only as private as it is unguessable. There a
key must be a random UUID (version 4) or at least 22 URL-safe characters (128 bits), else a 422
``weak_idempotency_key``: an order number or a counter ("1") would hand one customer another's invoice, or let anyone
squat the next key. The shape is not enough (review 3, I16: ``12345678-1234-1234-1234-123456789012``, the alphabet
and ``order-1001-order-1001-order`` passed it), so ``guessable`` also estimates the key's entropy: a character
counts only if it neither steps from the one before (the same, or one up or down: ``aaaa``, ``1234``, ``abcd``) nor
continues a piece already seen (three characters that occurred before: ``order-1001-order``); a UUID needs 12 such
hex digits (48 bits), another key 12 such characters (72 bits). Random keys clear it by far: in 300,000 of each,
the fewest were 14 hex digits (``uuid4``) and 15 characters (``secrets.token_urlsafe(16)``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, ParamSpec

import attrs
from cryptopay.core import fencing
from cryptopay.core.errors import Conflict, CryptopayError, IdempotencyConflict, InvalidInput
from cryptopay.core.fencing import ClaimLost
from cryptopay.core.identity import IdempotencyEntry, Principal, StoredResponse
from cryptopay.core.identity.model import StepUpRequired
from cryptopay.core.ports.identity import IdempotencyRepository
from cryptopay.core.ports.system import Clock
from flask import Response, current_app, make_response, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from cryptopay_http import described
from cryptopay_http.auth import current_principal
from cryptopay_http.convert import parse_json
from cryptopay_http.openapi import annotate
from cryptopay_http.runtime import runtime

__all__ = [
    "FORM_FIELD",
    "HEADER",
    "IDEMPOTENT_NOTE",
    "KEY_PROBLEMS",
    "REPLAYED_HEADERS",
    "IdempotencyInFlight",
    "WeakIdempotencyKey",
    "anonymous_key",
    "idempotent",
    "idempotent_form",
    "idempotent_form_in",
    "idempotent_in",
    "key_parameter",
    "new_form_key",
    "presented_key",
    "scope_of",
]

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x20-\x7E]{1,255}$"
# Without credentials: a UUID, or 22 to 255 URL-safe characters (22 x 6 bits >= 128), e.g. secrets.token_urlsafe(16)
ANONYMOUS_KEY_PATTERN = (
    r"^([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[A-Za-z0-9_-]{22,255})$"
)
_ANONYMOUS_KEY = re.compile(ANONYMOUS_KEY_PATTERN)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_FEWEST_NEW = 12  # characters that neither step from the last nor repeat a piece: 48 bits of hex, 72 of base64url
P = ParamSpec("P")


class WeakIdempotencyKey(InvalidInput):
    """A route without credentials was sent an ``Idempotency-Key`` others could guess."""

    code = "weak_idempotency_key"


class IdempotencyInFlight(Conflict):
    """A request with the same idempotency key is still being processed."""

    code = "idempotency_in_flight"


def _canonical(value: object) -> str:
    """``value`` as compact JSON with sorted keys; a number keeps its literal (``parse_json`` reads fractions and
    exponents as ``Decimal``, which ``json.dumps`` cannot write). Depth is bounded by ``parse_json``."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_canonical(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def _request_hash() -> str:
    if request.mimetype in _FORMS:  # a page's form, already parsed by its CSRF check: its fields by name
        fields = _canonical({name: request.form.getlist(name) for name in request.form}).encode()
        return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + fields).hexdigest()
    raw = request.get_data(cache=True)
    try:
        body = _canonical(parse_json(raw)).encode() if raw else b""
    except BadRequest:  # the view refuses it with a 400, which does not consume the key
        body = raw
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# The headers a replay repeats: those describing the answer itself (where the created resource is, that the request's
# shape is deprecated and until when, the language, an authentication challenge). Never what is fresh per request or
# per moment (X-Request-Id, RateLimit-*, Retry-After, Date), security headers (the edge adds them to every answer),
# nor a cookie (a credential must not sit in the idempotency store).
REPLAYED_HEADERS = frozenset({"location", "deprecation", "sunset", "link", "content-language", "www-authenticate"})
FORM_FIELD = "idempotency_key"


def presented_key() -> str | None:
    """The request's ``Idempotency-Key`` if it sent one (400 unless it is 1 to 255 printable ASCII characters)."""
    if HEADER not in request.headers:
        return None
    key = request.headers[HEADER]
    if not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
        raise BadRequest(f"the {HEADER} header must be 1 to 255 printable ASCII characters")
    return key


def _new_characters(text: str) -> int:
    """How many characters of ``text`` neither step from the one before (equal, or one code point up or down) nor
    continue a piece seen before (the three characters ending there occurred earlier)."""
    found = 0
    for at, char in enumerate(text):
        if at and abs(ord(char) - ord(text[at - 1])) <= 1:
            continue
        if at >= 2 and text[at - 2 : at + 1] in text[:at]:
            continue
        found += 1
    return found


def guessable(key: str) -> bool:
    """Whether a key for a route without credentials could be someone else's: not a version-4 UUID nor 22 to 255
    URL-safe characters, or too few new characters (``_new_characters``) for a random one.

    >>> [guessable(k) for k in ("12345678-1234-1234-1234-123456789012", "abcdefghijklmnopqrstuvwxyz", "order-1")]
    [True, True, True]
    >>> guessable("order-1001-order-1001-order"), guessable("9b2f6c1e-7d4a-4c3b-a8e5-0f6d2c9b7a41")
    (True, False)
    >>> guessable("Xk2_mQ9v-T4pLz7Wc1bN8rYd")
    False
    """
    if not _ANONYMOUS_KEY.match(key):
        return True
    lowered = key.lower()
    if _UUID.match(lowered):
        return not _UUID4.match(lowered) or _new_characters(lowered.replace("-", "")) < _FEWEST_NEW
    return _new_characters(key) < _FEWEST_NEW


def anonymous_key() -> str | None:
    """``presented_key`` for a route without credentials: also a random UUID (version 4) or 22+ random URL-safe
    characters (else 422, ``guessable``)."""
    key = presented_key()
    if key is not None and guessable(key):
        raise WeakIdempotencyKey(
            f"without a login, the {HEADER} must be one only you have: a random UUID (uuid4) or at least 22 random "
            "URL-safe characters, new for each payment; an order number, a counter, a sequence or a repeated piece "
            "can be another customer's",
            field=HEADER,
        )
    return key


def _key() -> str:
    key = presented_key()
    if key is None:
        raise BadRequest(f"this operation needs an {HEADER} header (a unique string per intended operation)")
    return key


def scope_of(principal: Principal) -> str:
    """Whose keys these are: the merchant the caller acts for, else the caller itself."""
    return f"merchant:{principal.merchant_id}" if principal.merchant_id else principal.idempotency_scope


def key_parameter(*, required: bool, anonymous: bool = False) -> dict[str, Any]:
    """The OpenAPI description of the header, with the constraints ``presented_key`` (``anonymous_key`` for a route
    without credentials) enforces."""
    if not anonymous:
        schema = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN}
        return {"name": HEADER, "in": "header", "required": required, "schema": schema}
    schema = {"type": "string", "minLength": 22, "maxLength": 255, "pattern": ANONYMOUS_KEY_PATTERN}
    description = (
        "no login here, so the key is only as private as it is unguessable: a random UUID (version 4, e.g. "
        "uuid.uuid4(), crypto.randomUUID()) or at least 22 random URL-safe characters (secrets.token_urlsafe(16)), "
        "new for each payment; a retry sends the same one. Else 422 weak_idempotency_key: another UUID version, or "
        "fewer than 12 characters that neither step from the one before (the same, or one up or down: 1234, abcd, "
        "aaaa) nor continue three characters seen before (order-1001-order-1001)"
    )
    return {"name": HEADER, "in": "header", "required": required, "schema": schema, "description": description}


def _replay(stored: StoredResponse) -> Response:
    response = Response(
        stored.body, status=stored.status, headers=list(stored.headers), content_type=stored.content_type
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _run(view: Callable[P, ResponseReturnValue], *args: P.args, **kwargs: P.kwargs) -> tuple[Response, bool]:
    """The view's response, and whether it is a result to keep (a refused invalid input is not, nor a missing or stale
    step-up a view checks itself, e.g. a send past the day's allowance: the retry with the step-up may use the key)."""
    try:
        return make_response(view(*args, **kwargs)), True
    except CryptopayError as error:  # a business refusal is a result too: store it like a success
        kept = not isinstance(error, (InvalidInput, StepUpRequired))
        return make_response(current_app.handle_user_exception(error)), kept


@attrs.define
class _Claim:
    """This request's hold on its key, a commit ``Fence``: renewed inside every commit of the request's work, so once
    a retry has taken the key over (after ``stale_after``), this request can no longer commit anything."""

    store: IdempotencyRepository
    clock: Clock
    scope: str
    key: str
    claimed_at: datetime

    def hold(self, claims: IdempotencyRepository | None) -> None:
        if not self.renew(claims or self.store):
            raise ClaimLost(f"this {HEADER} was taken over by a retry; this request changed nothing")

    def renew(self, claims: IdempotencyRepository) -> bool:
        now = self.clock.now()
        if not claims.renew(self.scope, self.key, claimed_at=self.claimed_at, at=now):
            return False
        self.claimed_at = now
        return True

    def release(self) -> None:
        if self.renew(self.store):  # never the claim of the retry that took over
            self.store.release(self.scope, self.key)

    def complete(self, response: Response) -> None:
        described.apply(response)  # now, so that the kept answer is the one sent
        kept = tuple((k, v) for k, v in response.headers.items() if k.lower() in REPLAYED_HEADERS)
        body = response.get_data(as_text=True)
        stored = StoredResponse(response.status_code, body, response.content_type or "", kept)
        # Only while the key is still our claim (one compare-and-set): never the claim of the retry that took over.
        self.store.complete(self.scope, self.key, stored, claimed_at=self.claimed_at)


def _existing(existing: IdempotencyEntry, request_hash: str) -> Response:
    if existing.request_hash != request_hash:
        raise IdempotencyConflict(f"this {HEADER} was already used with a different request")
    if existing.response is None:
        raise IdempotencyInFlight(f"a request with this {HEADER} is still being processed; retry shortly")
    return _replay(existing.response)


IDEMPOTENT_NOTE = (
    f"required: send an `{HEADER}` (1 to 255 printable ASCII characters, unique per intended operation; the "
    "merchant's login and API keys share them). A retry with the same key and body gets the first answer again "
    "(`Idempotent-Replayed: true`, with the first answer's `Location` and deprecation headers) and changes nothing; "
    "a refused invalid request does not use up its key, nor does an answer to retry later (a 429 or a 503, with "
    "`Retry-After`): after it, resend the same request with the same key."
)
KEY_PROBLEMS: tuple[tuple[type[CryptopayError] | str, str], ...] = (
    ("bad_request", f"no {HEADER}, or not 1 to 255 printable ASCII characters"),
    (IdempotencyConflict, "the key was used before with a different request"),
    (IdempotencyInFlight, "a request with this key is still being processed; retry shortly"),
    (ClaimLost, "a retry took this request's key over; this request changed nothing"),
)
ANONYMOUS_KEY_PROBLEM = (
    WeakIdempotencyKey,
    "the key is guessable: without a login it must be a random UUID or 22+ random URL-safe characters",
)


def idempotent(view: Callable[P, ResponseReturnValue]) -> Callable[P, Response]:
    """Make a view idempotent under the ``Idempotency-Key`` header (required). Place it below ``require``."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        return _once(_key(), scope_of(current_principal()), view, *args, **kwargs)

    return annotate(
        wrapper,
        parameters=(key_parameter(required=True),),
        errors=(400, 409),
        problems=KEY_PROBLEMS,
        idempotency=IDEMPOTENT_NOTE,
    )


def idempotent_form(view: Callable[P, Response]) -> Callable[P, Response]:
    """``idempotent`` for a page's money form: the key is the form's hidden ``idempotency_key`` (a fresh one per
    rendered form), so a double press or a resent post replays the first success (its redirect) instead of moving
    money twice. A refusal (any ``CryptopayError``) is raised to the page, which shows it on the form with a fresh
    key; it changed nothing, so it is not kept. The page's session principal must be in ``g.principal``."""
    return _form_once(view, lambda **_: scope_of(current_principal()), anonymous=False)


def idempotent_form_in(scope: Callable[..., str]) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """``idempotent_form`` for a page without a login (a payment link's pay button): the keys live in the scope
    ``scope(**view_args)`` names, shared by every visitor, so the form's key must be unguessable (``new_form_key``
    is; a weak one is refused like ``anonymous_key``'s, 422 ``weak_idempotency_key``).

    Example::

        @idempotent_form_in(lambda public_id: f"payment_link:{public_id}")
        def _pay(public_id: str) -> Response: ...
    """

    def decorate(view: Callable[P, Response]) -> Callable[P, Response]:
        return _form_once(view, scope, anonymous=True)

    return decorate


def _form_once(view: Callable[P, Response], scope: Callable[..., str], *, anonymous: bool) -> Callable[P, Response]:
    def successes_only(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except CryptopayError as error:
            raise _NotKept(error) from error

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        key = request.form.get(FORM_FIELD, "")
        if not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
            raise BadRequest("the form has no idempotency key: reload the page and try again")
        if anonymous and guessable(key):
            raise WeakIdempotencyKey("the form's idempotency key is guessable: reload the page and try again")
        # A double press's second post usually arrives while the first is still running: wait for the first's
        # answer (bounded) and give the same (its redirect), rather than a "still being processed" page where the
        # person expected their invoice; if the first was refused (the key released), this post runs it itself.
        deadline = time.monotonic() + FORM_IN_FLIGHT_WAIT
        while True:
            try:
                return _once(key, scope(**kwargs), successes_only, *args, **kwargs)
            except _NotKept as refused:
                raise refused.error from None
            except IdempotencyInFlight:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    return wrapper


FORM_IN_FLIGHT_WAIT = 5.0  # seconds a form's second post waits for the first's answer before saying "retry"


def new_form_key() -> str:
    """A fresh key for one rendered money form (its hidden ``idempotency_key``)."""
    return secrets.token_urlsafe(18)


class _NotKept(Exception):
    """A page's refusal travelling through ``_once`` (which releases the key) back to the page."""

    def __init__(self, error: CryptopayError) -> None:
        super().__init__(error.message)
        self.error = error


def idempotent_in(scope: Callable[..., str]) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, Response]]:
    """Like ``idempotent`` for a view without credentials: an optional key (``anonymous_key``: unguessable), in the
    scope ``scope(**view_args)`` names (a public resource, e.g. one payment link), so a customer's retried request
    returns the first answer and no other customer's."""

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            key = anonymous_key()
            if key is None:
                return make_response(view(*args, **kwargs))
            return _once(key, scope(**kwargs), view, *args, **kwargs)

        parameters = (key_parameter(required=False, anonymous=True),)
        note = (
            f"optional `{HEADER}`: a random UUID or at least 22 random URL-safe characters, new for each payment (no "
            "login here, so every caller shares the key space); a retry with the same key and body gets the first "
            "answer again and changes nothing."
        )
        problems = (*KEY_PROBLEMS, ANONYMOUS_KEY_PROBLEM)
        return annotate(wrapper, parameters=parameters, errors=(400, 409, 422), problems=problems, idempotency=note)

    return decorate


def _once(key: str, scope: str, view: Callable[P, ResponseReturnValue], *args: P.args, **kwargs: P.kwargs) -> Response:
    services = runtime().services
    request_hash, at = _request_hash(), services.clock.now()
    existing = services.idempotency.begin(scope, key, request_hash=request_hash, at=at)
    if existing is not None:
        return _existing(existing, request_hash)
    claim = _Claim(services.idempotency, services.clock, scope, key, at)
    try:
        with fencing.fenced(claim):
            response, keep = _run(view, *args, **kwargs)
    except BaseException:
        claim.release()
        raise
    if not keep or _retry_later(response):
        claim.release()
    else:
        claim.complete(response)
    return response


def _retry_later(response: Response) -> bool:
    """Whether an answer is not the key's result: a failure (>= 500) or a refusal telling the client to come back
    (a 429, or any 4xx with ``Retry-After``), raised or returned by the view. Its retry with the same key must run the
    request again: a stored 429 would be replayed forever (without its ``Retry-After``, which is never replayed)."""
    status = response.status_code
    return status >= 500 or status == 429 or (status >= 400 and "Retry-After" in response.headers)
