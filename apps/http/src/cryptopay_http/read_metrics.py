"""The invoice read cache's counters for ``/metrics``: how often this process served an invoice read from it.

``cryptopay_invoice_reads_total{result="hit"|"miss"}`` (misses include the reads ``bypassed`` while the change feed
was not listening, also counted on their own), ``cryptopay_invoice_read_evictions_total`` (kept renderings dropped
because their invoice changed), ``cryptopay_invoice_read_announcements_total`` (changes heard) and the
``cryptopay_invoice_read_entries`` gauge. A hit rate that falls to zero with ``bypassed`` rising means the feed's
connection is down (``docs/operations.md``).
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptopay.core.payments.read_cache import InvoiceReadStats
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["invoice_read_exposition"]


class _Reads(Collector):
    def __init__(self, stats: InvoiceReadStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        reads = CounterMetricFamily(
            "cryptopay_invoice_reads", "Invoice reads by whether the read cache held them", labels=("result",)
        )
        reads.add_metric(("hit",), stats.hits)
        reads.add_metric(("miss",), stats.misses)
        yield reads
        yield CounterMetricFamily(
            "cryptopay_invoice_read_bypassed",
            "Invoice reads rendered while the change feed was not listening",
            value=stats.bypassed,
        )
        yield CounterMetricFamily(
            "cryptopay_invoice_read_evictions",
            "Kept invoice renderings dropped because the invoice changed",
            value=stats.evictions,
        )
        yield CounterMetricFamily(
            "cryptopay_invoice_read_announcements", "Invoice changes the change feed heard", value=stats.announcements
        )
        yield GaugeMetricFamily("cryptopay_invoice_read_entries", "Invoice renderings kept now", value=stats.entries)


def invoice_read_exposition(stats: InvoiceReadStats) -> bytes:
    """``stats`` in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Reads(stats))
    return generate_latest(registry)
