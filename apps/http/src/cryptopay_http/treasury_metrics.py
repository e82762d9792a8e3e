"""The treasury's float gauges on the API's ``/metrics``, read from the books when Prometheus scrapes.

The float and the payouts it holds are database reads (the books' float, M-Pesa's latest word, payouts in flight
and held), cheap enough for a scrape. The inventory per network reads every deposit address on chain, far too slow
for a scrape: the worker's ``treasury.measure`` writes those gauges (and these) to ``treasury.prom`` for
node-exporter. A treasury that cannot be read (no database, or none wired) leaves these gauges out of the scrape
rather than failing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from cryptopay.core.errors import CryptopayError
from cryptopay.core.treasury import TreasuryStatus
from prometheus_client.core import GaugeMetricFamily, Metric

__all__ = ["TreasuryCollector"]

log = logging.getLogger(__name__)

_GAUGES = {
    "cryptopay_float_books_kes": "the books' M-Pesa float (posted)",
    "cryptopay_float_known_kes": "M-Pesa float: its latest word (Account Balance or a B2C result) moved by the books",
    "cryptopay_float_available_kes": "float new payouts may take: known less payouts in flight less the reserve",
    "cryptopay_float_reserve_kes": "the float kept back from payouts",
    "cryptopay_payouts_held": "planned payouts held: the float cannot cover them",
    "cryptopay_inventory_books": "custody per the books, by network and asset",
}


class TreasuryCollector:
    """A Prometheus collector over ``status`` (the treasury read from the books only)."""

    def __init__(self, status: Callable[[], TreasuryStatus]) -> None:
        self._status = status

    def describe(self) -> list[Metric]:
        """The families without reading anything (the registry asks once, at registration)."""
        return [GaugeMetricFamily(name, about) for name, about in _GAUGES.items()]

    def collect(self) -> Iterator[Metric]:
        try:
            status = self._status()
        except CryptopayError as error:
            log.debug("no treasury gauges in this scrape: %s", error.message)
            return
        position = status.float
        values = {
            "cryptopay_float_books_kes": position.books.amount,
            "cryptopay_float_known_kes": position.known.amount if position.known is not None else None,
            "cryptopay_float_available_kes": position.available.amount if position.available is not None else None,
            "cryptopay_float_reserve_kes": position.reserve.amount,
            "cryptopay_payouts_held": position.held,
        }
        for name, value in values.items():
            if value is not None:
                yield GaugeMetricFamily(name, _GAUGES[name], value=float(value))
        inventory = GaugeMetricFamily(
            "cryptopay_inventory_books", _GAUGES["cryptopay_inventory_books"], labels=("network", "asset")
        )
        for holding in status.inventory:
            inventory.add_metric((holding.network, holding.asset.code), float(holding.books.amount))
        yield inventory
