"""What the chain simulators (Esplora, TronGrid) share: the JSON body, a switchable outage and its control route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, Response, jsonify, request

__all__ = ["add_outage", "json_body"]


class _Failing(Protocol):
    failures_left: int


def json_body() -> dict[str, Any]:
    """The request's JSON object, or ``{}`` when there is none."""
    return request.get_json(silent=True) or {}


def add_outage(app: Flask, chain: _Failing, answer: Callable[[], Response]) -> None:
    """Answer ``answer()`` instead of serving while ``chain.failures_left`` is not 0 (negative: until told otherwise).

    ``POST /_sim/fail {"count": n}`` sets it; ``/_sim/`` control routes are never failed.
    """

    @app.before_request
    def outage() -> Response | None:
        if request.path.startswith("/_sim/") or chain.failures_left == 0:
            return None
        if chain.failures_left > 0:
            chain.failures_left -= 1
        return answer()

    @app.post("/_sim/fail")
    def fail() -> Response:
        chain.failures_left = int(json_body().get("count", -1))
        return jsonify({"failures_left": chain.failures_left})
