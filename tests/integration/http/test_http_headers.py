"""Security headers and a non-public /metrics (#12.7)."""

from __future__ import annotations

import pytest

from tests.integration.http.http_support import AuthActions, make_app


def test_every_answer_carries_a_csp_frame_protection_and_referrer_policy(services) -> None:
    """JSON, problem+json and the HTML docs page all carry the CSP, X-Frame-Options and Referrer-Policy."""
    client = make_app(services).test_client()
    for path in ("/healthz", "/docs", "/openapi.json", "/v1/nothing-here"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert "default-src 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer", path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers.get("Server", "") == "", path


def test_authenticated_answers_are_never_stored(services) -> None:
    """Any request that presents a credential gets Cache-Control: no-store, success or failure."""
    app = make_app(services)
    client = app.test_client()
    headers = AuthActions(app, client).user("personal")
    assert client.get("/v1/me", headers=headers).headers["Cache-Control"] == "no-store"
    assert client.get("/v1/me", headers={"Authorization": "Bearer junk"}).headers["Cache-Control"] == "no-store"
    assert client.get("/v1/me", headers={"X-Api-Key": "cp_x.y"}).headers["Cache-Control"] == "no-store"


def test_hsts_only_in_production(services) -> None:
    """Strict-Transport-Security is sent in production (TLS ends at the proxy) and not in development."""
    assert "Strict-Transport-Security" not in make_app(services).test_client().get("/healthz").headers
    production = make_app(services, production=True).test_client().get("/healthz").headers
    assert production["Strict-Transport-Security"].startswith("max-age=63072000")


@pytest.mark.parametrize(
    ("token", "authorization"),
    [("", None), ("", "Bearer "), ("scrape-token", None), ("scrape-token", "Bearer wrong"), ("scrape-token", "x")],
)
def test_metrics_are_not_public(services, token: str, authorization: str | None) -> None:
    """Without the metrics token setting, or without presenting it, /metrics answers 404 and shows nothing."""
    client = make_app(services, metrics_token=token).test_client()
    answer = client.get("/metrics", headers={"Authorization": authorization} if authorization else {})
    assert answer.status_code == 404 and b"cryptopay_http" not in answer.data


def test_metrics_answer_the_scraper_with_the_token(services) -> None:
    """The configured bearer token opens /metrics."""
    client = make_app(services, metrics_token="scrape-token").test_client()
    answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert answer.status_code == 200 and b"cryptopay_http_requests" in answer.data


def test_unknown_http_methods_share_one_metrics_label(services) -> None:
    """Anonymous requests with made-up methods cannot grow the metrics' label set: they count as OTHER."""
    client = make_app(services, metrics_token="scrape-token").test_client()
    for n in range(3):
        client.open("/v1/invoices", method=f"XMETHOD{n}")
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).data
    assert b"XMETHOD" not in scraped
    assert b'method="OTHER",route="<unmatched>",status="405"} 3.0' in scraped
