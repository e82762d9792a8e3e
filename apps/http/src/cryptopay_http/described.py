"""Headers that describe a request's answer, added from anywhere while the request runs (``describe``).

A request's code can learn something about its answer before the view has one, e.g. that the request used a
deprecated amount shape (``amounts``): ``describe`` records the headers, and they are set on whatever answer the
request gets, success or refusal. ``idempotency`` sets them itself before it keeps an answer for a replay (``apply``),
so a retry under the same ``Idempotency-Key`` repeats them. Only headers about the answer belong here, never a
credential or anything fresh per request (request id, rate limit, cookies).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, after_this_request, g

__all__ = ["apply", "describe"]

_PENDING = "cryptopay_described_headers"
_JOINED = frozenset({"link"})  # a list-valued header: a second value is appended, never replacing the view's


def describe(headers: Mapping[str, str]) -> None:
    """Set ``headers`` on this request's answer, whatever the view returns or raises."""
    pending: list[tuple[str, str]] | None = g.get(_PENDING)
    if pending is None:
        pending = []
        setattr(g, _PENDING, pending)
        after_this_request(apply)
    pending.extend(headers.items())


def apply(response: Response) -> Response:
    """Set the described headers on ``response`` now (once: a second call adds nothing)."""
    pending: list[tuple[str, str]] = g.get(_PENDING) or []
    for name, value in pending:
        present = response.headers.get(name)
        joined = name.lower() in _JOINED and present
        response.headers[name] = f"{present}, {value}" if joined else value
    pending.clear()
    return response
