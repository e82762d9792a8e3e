"""A request id for every request: the caller's ``X-Request-Id`` when it is a plain token, else a fresh one.

It is bound to the request's log records (``cryptopay.core.logs``) and echoed in the response's ``X-Request-Id``,
so a merchant's support question and the server's JSON log lines meet on one id.
"""

from __future__ import annotations

import re
import uuid

from cryptopay.core import logs
from flask import Flask, Response, g, request

__all__ = ["HEADER", "init_app"]

HEADER = "X-Request-Id"
_PLAIN = re.compile(r"[A-Za-z0-9._-]{8,64}")


def _request_id() -> str:
    offered = request.headers.get(HEADER, "")
    return offered if _PLAIN.fullmatch(offered) else uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Bind a request id for the span of each request and return it in ``X-Request-Id``."""

    @app.before_request
    def _bind() -> None:
        g.request_id = _request_id()
        g.request_log_token = logs.bind(request_id=g.request_id)

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response

    @app.teardown_request
    def _unbind(_error: BaseException | None) -> None:
        token = g.pop("request_log_token", None)
        if token is not None:
            logs.reset(token)
