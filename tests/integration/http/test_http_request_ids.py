"""Request ids: echoed in X-Request-Id, bound to every JSON log line of the request, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
import re

from cryptopay.core.logs import JsonFormatter

from tests.integration.http.http_support import make_app


def test_a_plain_offered_id_is_echoed_and_anything_else_replaced(services) -> None:
    """A caller's plain X-Request-Id comes back as is; a missing or hostile one gets a fresh 32-hex id."""
    client = make_app(services).test_client()
    assert client.get("/healthz", headers={"X-Request-Id": "lb-7f3a9c21"}).headers["X-Request-Id"] == "lb-7f3a9c21"
    for offered in ({}, {"X-Request-Id": "x"}, {"X-Request-Id": "a b<script>" + "c" * 10}):
        assert re.fullmatch(r"[0-9a-f]{32}", client.get("/healthz", headers=offered).headers["X-Request-Id"])


def test_log_lines_made_during_a_request_carry_its_id_and_no_secret(services) -> None:
    """A record logged inside a request is one JSON line with that request's id; a bearer token is redacted."""
    app = make_app(services)
    probe = logging.getLogger("tests.request_ids")

    @app.get("/_probe")
    def _probe() -> str:
        probe.warning("upstream said no to Authorization: Bearer sk_live_abcdef123456")
        return "ok"

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    probe.addHandler(handler)
    try:
        response = app.test_client().get("/_probe", headers={"X-Request-Id": "req-12345678"})
    finally:
        probe.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert response.status_code == 200 and line["request_id"] == "req-12345678"
    assert "sk_live" not in stream.getvalue() and line["message"].endswith("Bearer <redacted>")
