"""A merchant's analytics over recent Nairobi days: volume received per day, per rail, and invoices paid vs expired.

A read model over the records the reports use: payment credits (what each confirmed payment received, on which
network, withdrawn credits left out) and the invoices created in the span (one bounded range query a page at a
time: ``InvoiceRepository.created_between``). It decides nothing and converts nothing: volumes stay per asset.

- ``volume``: per day, the amount received per asset (every day of the span, zero when nothing came);
- ``rails``: per rail (asset on network), the amount received and the number of payments, largest first;
- ``outcomes``: per day of creation, invoices paid (settled), expired (expired or invalid), cancelled and open.

>>> from datetime import date
>>> days = tuple(date(2026, 3, d) for d in (1, 2))
>>> Analytics(days, {}, (), {}).assets
()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

import attrs
from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.money import Money
from cryptopay.core.payments.model import PaymentCredit
from cryptopay.core.reports.periods import ReportSpan
from cryptopay.core.system import NAIROBI

__all__ = ["Analytics", "Outcomes", "RailVolume", "analyse"]

_PAID = (InvoiceState.SETTLED,)
_EXPIRED = (InvoiceState.EXPIRED, InvoiceState.INVALID)


@attrs.frozen
class RailVolume:
    asset: str
    network: str
    received: Money
    payments: int


@attrs.frozen
class Outcomes:
    """How the invoices created on one day ended (so far)."""

    paid: int = 0
    expired: int = 0
    cancelled: int = 0
    open: int = 0

    @property
    def total(self) -> int:
        return self.paid + self.expired + self.cancelled + self.open


@attrs.frozen
class Analytics:
    days: tuple[date, ...]
    volume: dict[str, dict[date, Money]]  # asset -> day -> received
    rails: tuple[RailVolume, ...]
    outcomes: dict[date, Outcomes]

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(sorted(self.volume))

    def outcome(self, day: date) -> Outcomes:
        return self.outcomes.get(day, Outcomes())


def analyse(span: ReportSpan, credits: Iterable[PaymentCredit], invoices: Iterable[Invoice]) -> Analytics:
    """Sum ``credits`` (made within the span) and ``invoices`` (created within it) per Nairobi day of ``span``."""
    days = tuple(b.first_day for b in span.buckets)
    volume: dict[str, dict[date, Money]] = {}
    by_rail: dict[tuple[str, str], list[Money]] = defaultdict(list)
    for credit in credits:
        if credit.reversal_entry_id is not None or credit.held:  # held by compliance: not the merchant's turnover
            continue
        received, day = credit.received, credit.credited_at.astimezone(NAIROBI).date()
        per_day = volume.setdefault(received.asset.code, {d: Money.zero(received.asset) for d in days})
        if day in per_day:
            per_day[day] += received
        by_rail[(received.asset.code, credit.transfer[0])].append(received)
    rails = [
        RailVolume(asset, network, sum(amounts[1:], amounts[0]), len(amounts))
        for (asset, network), amounts in by_rail.items()
    ]
    rails.sort(key=lambda r: (r.asset, -r.received.amount, r.network))
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for invoice in invoices:
        counts[invoice.created_at.astimezone(NAIROBI).date()][_outcome(invoice.state)] += 1
    outcomes = {day: Outcomes(**dict(c)) for day, c in counts.items() if day in days}
    return Analytics(days, volume, tuple(rails), outcomes)


def _outcome(state: InvoiceState) -> str:
    if state in _PAID:
        return "paid"
    if state in _EXPIRED:
        return "expired"
    if state is InvoiceState.CANCELLED:
        return "cancelled"
    return "open"
