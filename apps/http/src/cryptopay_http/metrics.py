"""Prometheus metrics per app: request counts by route and status, latency histograms by route.

Routes are labelled by their URL rule (``/v1/merchants/<merchant_id>``), never the raw path, so ids never
explode the label set; unmatched requests share the ``<unmatched>`` label, and methods outside HTTP's usual
ones share ``OTHER`` (a client picks the method: made-up ones must not grow the label set either).
``cryptopay_http.edge`` observes every response (``HttpMetrics.observe``), from the moment the server handed the
request to the app until the app started its response.

``/metrics`` is not public (#12.7): it answers only a scraper presenting ``Authorization: Bearer <token>`` with
the token set in ``CRYPTOPAY_METRICS_TOKEN``; without that setting it answers 404 to everyone.
"""

from __future__ import annotations

import hmac

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["UNMATCHED", "HttpMetrics", "scraper_allowed"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


def scraper_allowed(token: str, authorization: str) -> bool:
    """True when metrics are enabled (``token`` set) and the request presents exactly that bearer token."""
    scheme, _, presented = authorization.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)


@attrs.define
class HttpMetrics:
    """The HTTP metrics of one app.

    >>> metrics = HttpMetrics()
    >>> metrics.observe("get", "/v1/invoices/<invoice_id>", 200, 0.004)
    >>> metrics.observe("XMETHOD", UNMATCHED, 405, 0.001)
    >>> metrics.registry.get_sample_value(
    ...     "cryptopay_http_requests_total", {"method": "OTHER", "route": UNMATCHED, "status": "405"})
    1.0
    """

    registry: CollectorRegistry = attrs.Factory(lambda: CollectorRegistry(auto_describe=True))
    requests: Counter = attrs.field(init=False)
    latency: Histogram = attrs.field(init=False)
    deprecated_shapes: Counter = attrs.field(init=False)
    # The labelled children, looked up once per label set (``labels()`` validates and locks on every call).
    _timers: dict[tuple[str, str], Histogram] = attrs.field(init=False, factory=dict)
    _counters: dict[tuple[str, str, int], Counter] = attrs.field(init=False, factory=dict)

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
        self.deprecated_shapes = Counter(
            "cryptopay_http_deprecated_shapes",
            "Requests that used a deprecated request shape (e.g. an amount as kes), by route and shape",
            ("route", "shape"),
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request (``method`` as the client sent it) and time it."""
        method = method.upper()
        if method not in _METHODS:
            method = "OTHER"
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[(method, route)] = self.latency.labels(method, route)
        timer.observe(seconds)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self._counters[(method, route, status)] = self.requests.labels(method, route, str(status))
        counter.inc()

    def deprecated(self, route: str, shape: str) -> None:
        """Count one request to ``route`` that used the deprecated ``shape`` (a fixed name, never client text).

        >>> metrics = HttpMetrics()
        >>> metrics.deprecated("/v1/wallet/buys", "kes")
        >>> metrics.registry.get_sample_value(
        ...     "cryptopay_http_deprecated_shapes_total", {"route": "/v1/wallet/buys", "shape": "kes"})
        1.0
        """
        self.deprecated_shapes.labels(route, shape).inc()
