"""What every request gets around the Flask app, as one WSGI middleware (``RequestEdge``).

- its request id (``request_ids``), bound to every log line made while the app runs and echoed in
  ``X-Request-Id``;
- the caller's rate limit, when a limit was checked (``auth`` leaves its decision in the environ under
  ``RATE_DECISION``): ``RateLimit-Limit`` and ``RateLimit-Remaining``;
- the security headers (``headers.SecurityHeaders``);
- the request's count and latency by route (``metrics.HttpMetrics``).

Each of these was a Flask ``before_request``/``after_request``/``teardown_request`` hook before: seven hook calls,
each with its context-local look-ups, and about a dozen headers added through werkzeug's ``Headers`` (validated, then
copied once more by ``get_wsgi_headers``). Here they are one function call per request that appends to the plain
header list the app hands its server: about a fifth of an invoice read's CPU in the process before
(``tests/bench/cpu_api.py``). Every response passes through it, errors and unmatched routes included, exactly as
every response passed through the hooks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from cryptopay.core import logs
from cryptopay.core.identity import RateDecision
from flask import Request

from cryptopay_http import request_ids
from cryptopay_http.headers import SecurityHeaders
from cryptopay_http.metrics import UNMATCHED, HttpMetrics

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["RATE_DECISION", "RequestEdge"]

RATE_DECISION = "cryptopay.rate_decision"  # the environ key of the request's last ``RateDecision``

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class RequestEdge:
    """Wraps a WSGI app (``app.wsgi_app = RequestEdge(app.wsgi_app, ...)``)."""

    def __init__(self, app: WSGIApplication, *, metrics: HttpMetrics, security: SecurityHeaders) -> None:
        self._app, self._metrics, self._security = app, metrics, security

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_ids.request_id(environ)
        token = logs.bind(request_id=request_id)
        observed = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None) -> object:
            headers.append((request_ids.HEADER, request_id))
            decision: RateDecision | None = environ.get(RATE_DECISION)
            if decision is not None:
                headers += (("RateLimit-Limit", str(decision.limit)), ("RateLimit-Remaining", str(decision.remaining)))
            self._security(headers, environ)
            nonlocal observed
            if not observed:  # a second call (an error after the first) is the same request
                observed = True
                request = environ.get("werkzeug.request")  # the Flask request: its URL rule, once routed
                rule = request.url_rule if isinstance(request, Request) else None
                route = rule.rule if rule is not None else UNMATCHED
                method = environ.get("REQUEST_METHOD", "GET")
                self._metrics.observe(method, route, int(status[:3]), time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, start)  # type: ignore[arg-type]
        finally:
            logs.reset(token)
