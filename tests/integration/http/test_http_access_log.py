"""Review R26: the API writes one access log line per request (logger ``cryptopay.http.access``, JSON in production):
method, route template, status, duration, request id, the authenticated principal's id and the client address as
the proxy settings give it; never a password, a token, a query string or a phone number."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from cryptopay.core.logs import JsonFormatter
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.integration.http.http_support import PASSWORD, AuthActions, fast_hasher, make_app
from tests.support.services import in_memory_services

PHONE = "254712345678"
QUERY_SECRET = "cb-token-s3cr3t-value"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())  # as ``logs.configure(structured=True)`` in production
    access = logging.getLogger("cryptopay.http.access")
    access.addHandler(handler)
    level, disabled = access.level, access.disabled
    access.setLevel(logging.INFO)
    access.disabled = False  # a test before may have configured logging with existing loggers disabled
    try:
        yield stream
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
        access.disabled = disabled


def _read(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_line_per_request_with_its_route_status_principal_and_client_and_no_secret(lines: io.StringIO) -> None:
    services = in_memory_services(clock=ManualClock(), ids=SequentialIds(), hasher=fast_hasher())
    app = make_app(services, proxy_count=1)  # one proxy in front: the client is its X-Forwarded-For
    client = app.test_client()
    auth = AuthActions(app, client)
    email = "amina@duka.co.ke"
    auth.register(email)
    token = auth.login(email)["access_token"]
    proxied = {"X-Forwarded-For": "203.0.113.9", "X-Request-Id": "req-r26-1"}
    headers = {"Authorization": f"Bearer {token}", **proxied}
    assert client.get(f"/v1/me?token={QUERY_SECRET}", headers=headers).status_code in (200, 422)
    assert client.get(f"/v1/nowhere/{PHONE}?token={QUERY_SECRET}", headers=proxied).status_code == 404
    found = _read(lines)
    assert [(r["method"], r["route"]) for r in found] == [
        ("POST", "/v1/auth/register"),
        ("POST", "/v1/auth/login"),
        ("GET", "/v1/me"),
        ("GET", "<unmatched>"),
    ]
    me, unmatched = found[2], found[3]
    assert (me["logger"], me["level"], me["request_id"], me["client"]) == (
        "cryptopay.http.access",
        "info",
        "req-r26-1",
        "203.0.113.9",
    )
    assert me["principal"].startswith("usr_") and "principal" not in unmatched and unmatched["status"] == "404"
    assert float(me["duration_ms"]) >= 0 and me["message"].startswith("GET /v1/me ")
    text = lines.getvalue()
    for secret in (PASSWORD, token, QUERY_SECRET, PHONE, email, "Bearer", "?"):
        assert secret not in text, secret


def test_nothing_is_written_below_info(lines: io.StringIO) -> None:
    """A deployment (or the CLI's demo) that keeps the standard WARNING level sees no access lines."""
    logging.getLogger("cryptopay.http.access").setLevel(logging.WARNING)
    services = in_memory_services(clock=ManualClock(), ids=SequentialIds(), hasher=fast_hasher())
    make_app(services).test_client().get("/v1/nowhere")
    assert lines.getvalue() == ""
