"""What every request gets around the Flask app, as one WSGI middleware (``RequestEdge``).

- its request id (``request_ids``), bound to every log line made while the app runs and echoed in
  ``X-Request-Id``;
- the caller's rate limit, when a limit was checked (``auth`` leaves its decision in the environ under
  ``RATE_DECISION``): ``RateLimit-Limit`` and ``RateLimit-Remaining``;
- the security headers (``headers.SecurityHeaders``);
- the request's count and latency by route (``metrics.HttpMetrics``);
- its access log line (logger ``cryptopay.http.access``, level INFO, through the standard logging the server
  configured: JSON lines in production): the method, the route's template (``/v1/invoices/<invoice_id>``, never the
  path as sent nor its query string, which may carry callback tokens or phone numbers; ``<unmatched>`` for no route),
  the status, the milliseconds until the response started, the request id (bound), the authenticated principal's id
  (a user's or an API key's, never a credential; absent when anonymous) and the client address as the proxy
  settings give it (``CRYPTOPAY_PROXY_COUNT``: werkzeug's ``ProxyFix`` wraps this middleware). No header, body,
  cookie or query parameter is ever logged.

Each of these was a Flask ``before_request``/``after_request``/``teardown_request`` hook before: seven hook calls,
each with its context-local look-ups, and about a dozen headers added through werkzeug's ``Headers`` (validated, then
copied once more by ``get_wsgi_headers``). Here they are one function call per request that appends to the plain
header list the app hands its server: about a fifth of an invoice read's CPU in the process before
(``tests/bench/cpu_api.py``). Every response passes through it, errors and unmatched routes included, exactly as
every response passed through the hooks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from cryptopay.adapters import redis_stall
from cryptopay.core import logs
from cryptopay.core.identity import RateDecision
from flask import Request, g, has_request_context

from cryptopay_http import request_ids
from cryptopay_http.headers import SecurityHeaders
from cryptopay_http.metrics import UNMATCHED, HttpMetrics

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["RATE_DECISION", "RequestEdge"]

RATE_DECISION = "cryptopay.rate_decision"  # the environ key of the request's last ``RateDecision``
_access = logging.getLogger("cryptopay.http.access")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class RequestEdge:
    """Wraps a WSGI app (``app.wsgi_app = RequestEdge(app.wsgi_app, ...)``)."""

    def __init__(self, app: WSGIApplication, *, metrics: HttpMetrics, security: SecurityHeaders) -> None:
        self._app, self._metrics, self._security = app, metrics, security

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        redis_stall.forget()  # a Redis that timed out in this thread's last request is asked again (R14-6)
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
                elapsed = time.perf_counter() - started
                self._metrics.observe(method, route, int(status[:3]), elapsed)
                if _access.isEnabledFor(logging.INFO):
                    _log_access(environ, method, route, status[:3], elapsed)
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, start)  # type: ignore[arg-type]
        finally:
            logs.reset(token)


def _log_access(environ: WSGIEnvironment, method: str, route: str, status: str, elapsed: float) -> None:
    """One access log line: method, route template, status, milliseconds, principal id and client address as fields
    (the request id is bound already); nothing the caller sent but the method."""
    principal = getattr(g.get("principal"), "id", None) if has_request_context() else None
    fields = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": f"{elapsed * 1000:.1f}",
        "client": str(environ.get("REMOTE_ADDR") or "-"),
    }
    if isinstance(principal, str):
        fields["principal"] = principal
    with logs.scope(**fields):
        _access.info("%s %s %s %sms", method, route, status, fields["duration_ms"])
