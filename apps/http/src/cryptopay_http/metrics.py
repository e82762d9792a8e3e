"""Prometheus metrics per app: request counts by route and status, latency histograms by route.

Routes are labelled by their URL rule (``/v1/merchants/<merchant_id>``), never the raw path, so ids never
explode the label set; unmatched requests share the ``<unmatched>`` label, and methods outside HTTP's usual
ones share ``OTHER`` (a client picks the method: made-up ones must not grow the label set either).

``/metrics`` is not public (#12.7): it answers only a scraper presenting ``Authorization: Bearer <token>`` with
the token set in ``CRYPTOPAY_METRICS_TOKEN``; without that setting it answers 404 to everyone.
"""

from __future__ import annotations

import hmac
import time

import attrs
from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["HttpMetrics", "scraper_allowed"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def scraper_allowed(token: str, authorization: str) -> bool:
    """True when metrics are enabled (``token`` set) and the request presents exactly that bearer token."""
    scheme, _, presented = authorization.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)


@attrs.define
class HttpMetrics:
    registry: CollectorRegistry = attrs.Factory(lambda: CollectorRegistry(auto_describe=True))
    requests: Counter = attrs.field(init=False)
    latency: Histogram = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.requests = Counter(
            "cryptopay_http_requests", "HTTP requests served", ("method", "route", "status"), registry=self.registry
        )
        self.latency = Histogram(
            "cryptopay_http_request_duration_seconds",
            "HTTP request latency",
            ("method", "route"),
            registry=self.registry,
        )

    def init_app(self, app: Flask) -> None:
        """Time every request and count it by route and status."""
        # The labelled children, looked up once per label set (``labels()`` validates and locks on every call).
        timers: dict[tuple[str, str], Histogram] = {}
        counters: dict[tuple[str, str, int], Counter] = {}

        @app.before_request
        def _start() -> None:
            g.request_started = time.perf_counter()

        @app.after_request
        def _observe(response: Response) -> Response:
            rule = request.url_rule
            route = rule.rule if rule is not None else "<unmatched>"
            method = request.method if request.method in _METHODS else "OTHER"
            started = g.get("request_started")
            if started is not None:
                timer = timers.get((method, route))
                if timer is None:
                    timer = timers[(method, route)] = self.latency.labels(method, route)
                timer.observe(time.perf_counter() - started)
            status = response.status_code
            counter = counters.get((method, route, status))
            if counter is None:
                counter = counters[(method, route, status)] = self.requests.labels(method, route, str(status))
            counter.inc()
            return response
