"""Merchant reports: sales, fees (with the taxes on them) and settlements per Nairobi day or month.

The sources are the records the ledger entries are made from, each naming its entry: payment credits (one per
confirmed payment: what was received and the merchant fee taken, withdrawn when the chain reorganised it away),
settlements (what each conversion credited and its FX spread) and payouts (what left, and its charge). Amounts are
decimal strings per asset, never converted: a USDT sale stays USDT. Every row is a plain mapping of strings so the
same report is JSON for a dashboard and CSV for a monthly statement (``as_csv``).

- **sales**: per period and asset, confirmed payments, ``received``, ``fees`` (the merchant fee) and ``net``.
- **fees**: per period, product (``merchant_fee`` per asset, ``payout_charge`` and ``fx_spread`` in KES) and asset,
  the fee, each tax on it from the fee-tax data in force on the period's first day (``reports.taxes``), and the fee
  net of the inclusive taxes.
- **settlements**: per period (by when the settlement ran), settlements, shillings ``credited`` by conversions,
  ``fx_spread``, payouts ``paid_out`` (completed), their ``payout_charges``, ``in_flight`` and ``failed`` counts;
  and ``owed``: what the merchant owed for refunds after settlement at the period's end (now, for a period not
  over yet; R25, ``payments.summary.owed_by_merchant``, an as-of read of the ledger), netted from its next
  settlements: the CSV's last row (period ``owed_by_merchant``, column ``owed``).

Known limits: refunds are not deducted from sales yet; a month's report reads the merchant's settlements and
payouts by listing (a few hundred rows a year), its credits by one indexed range query a page at a time.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.invoices import Invoice
from cryptopay.core.listings import each
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.model import PaymentCredit
from cryptopay.core.payments.summary import owed_by_merchant
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock
from cryptopay.core.reports.analytics import Analytics, analyse
from cryptopay.core.reports.periods import Bucket, ReportSpan, report_span
from cryptopay.core.reports.taxes import FeeTaxBook, fee_tax_book
from cryptopay.core.settlement.model import Settlement
from cryptopay.core.system import NAIROBI
from cryptopay.core.text import spreadsheet_cell

if TYPE_CHECKING:
    from cryptopay.core.ledger.service import Ledger
    from cryptopay.core.ports.payments import PaymentsUowFactory

__all__ = ["REPORT_KINDS", "Report", "Reports"]

REPORT_KINDS = ("sales", "fees", "settlements")
_PAGE = 500


@attrs.frozen
class Report:
    """One report: its columns and rows (strings: amounts as decimal strings), and per-asset totals."""

    kind: str
    merchant_id: str
    period: str
    first: date
    last: date
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    totals: tuple[dict[str, str], ...]
    tax_version: int | None = None
    next_first: date | None = None  # the span was longer than one report: ask again from this day
    owed: Money | None = None  # settlements: what the merchant owed for refunds after settlement at the end (KES)

    def as_csv(self) -> str:
        """The rows, then the totals (period ``total``), as CSV with a header row; a settlements report then says
        what the merchant owes (period ``owed_by_merchant``, in its own ``owed`` column)."""
        out = io.StringIO()
        columns = (*self.columns, "owed") if self.owed is not None else self.columns
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        owed = [] if self.owed is None else [_owed_row(self.owed)]
        for row in (*self.rows, *self.totals, *owed):
            writer.writerow({key: spreadsheet_cell(value) for key, value in row.items()})
        return out.getvalue()


def _owed_row(owed: Money) -> dict[str, str]:
    return {"period": "owed_by_merchant", "owed": format(owed.amount, "f"), "currency": owed.asset.code}


class Reports:
    """The merchant report use cases (every shell renders the same ``Report``)."""

    def __init__(
        self, *, uow: PaymentsUowFactory, clock: Clock, taxes: FeeTaxBook | None = None, ledger: Ledger | None = None
    ) -> None:
        """``ledger``: where a settlements report reads what the merchant owes (none: the report leaves it out)."""
        self._uow, self._clock, self._taxes, self._ledger = uow, clock, taxes or fee_tax_book(), ledger

    def report(self, kind: str, merchant_id: str, *, period: str, first: str | None, last: str | None) -> Report:
        """``kind`` is sales, fees or settlements; ``period`` day or month; dates ``YYYY-MM-DD`` (inclusive)."""
        span = report_span(period, first, last, today=self._clock.now().astimezone(NAIROBI).date())
        if kind == "sales":
            return self.sales(merchant_id, span)
        if kind == "fees":
            return self.fees(merchant_id, span)
        if kind == "settlements":
            return self.settlements(merchant_id, span)
        raise InvalidInput(f"a report is one of {', '.join(REPORT_KINDS)}", field="kind")

    # --- sales ----------------------------------------------------------------------------------------------------

    def sales(self, merchant_id: str, span: ReportSpan) -> Report:
        sums: dict[tuple[str, str], _Sales] = defaultdict(_Sales)
        for credit, bucket in self._credits(merchant_id, span):
            sums[(bucket.label, credit.received.asset.code)].add(credit)
        columns = ("period", "asset", "payments", "received", "fees", "net")
        rows = [s.row(label, asset) for (label, asset), s in sorted(sums.items())]
        totals: dict[str, _Sales] = defaultdict(_Sales)
        for (_, asset), s in sums.items():
            totals[asset].merge(s)
        return self._report(
            "sales", merchant_id, span, columns, rows, [t.row("total", a) for a, t in sorted(totals.items())]
        )

    # --- fees -----------------------------------------------------------------------------------------------------

    def fees(self, merchant_id: str, span: ReportSpan) -> Report:
        fees: dict[tuple[str, str, str], Money] = {}

        def add(bucket: Bucket, product: str, amount: Money) -> None:
            key = (bucket.label, product, amount.asset.code)
            fees[key] = fees.get(key, Money.zero(amount.asset)) + amount

        for credit, day in self._credits(merchant_id, span):
            add(day, "merchant_fee", credit.fee)
        for settlement in self._settlements(merchant_id, span):
            if (ran := span.bucket_of(settlement.created_at)) is not None and settlement.fx_spread.is_positive():
                add(ran, "fx_spread", settlement.fx_spread)
        for payout in self._payouts(merchant_id):
            if (paid := _charged_in(payout, span)) is not None:
                add(paid, "payout_charge", payout.charge)
        in_force = self._taxes.in_force(max(span.first, self._taxes.versions[0].effective_from))
        names = in_force.names
        columns = ("period", "product", "asset", "fees", *names, "net_of_tax")
        first_days = {b.label: b.first_day for b in span.buckets}
        rows = [
            self._fee_row(label, product, fee, first_days[label]) for (label, product, _), fee in sorted(fees.items())
        ]
        totals = _fee_totals(rows, names)
        report = self._report("fees", merchant_id, span, columns, rows, totals)
        return attrs.evolve(report, tax_version=in_force.version)

    def _fee_row(self, label: str, product: str, fee: Money, day: date) -> dict[str, str]:
        taxes = self._taxes.in_force(day)
        row = {"period": label, "product": product, "asset": fee.asset.code, "fees": str(fee.amount)}
        inclusive = Money.zero(fee.asset)
        for (name, amount), tax in zip(taxes.on(fee, product), taxes.taxes, strict=True):
            row[name] = str(amount.amount)
            if tax.basis.value == "inclusive":
                inclusive += amount
        row["net_of_tax"] = str((fee - inclusive).amount)
        return row

    # --- settlements ----------------------------------------------------------------------------------------------

    def settlements(self, merchant_id: str, span: ReportSpan) -> Report:
        sums: dict[str, _Settled] = defaultdict(_Settled)
        settled = [s for s in self._settlements(merchant_id, span) if span.bucket_of(s.created_at) is not None]
        by_settlement: dict[str, list[Payout]] = defaultdict(list)
        wanted = {s.id for s in settled}
        for payout in self._payouts(merchant_id):
            if payout.settlement_id in wanted:
                by_settlement[payout.settlement_id].append(payout)
        for settlement in settled:
            bucket = span.bucket_of(settlement.created_at)
            assert bucket is not None
            sums[bucket.label].add(settlement, by_settlement[settlement.id])
        columns = _Settled.COLUMNS
        rows = [s.row(label) for label, s in sorted(sums.items())]
        total = _Settled()
        for s in sums.values():
            total.merge(s)
        report = self._report("settlements", merchant_id, span, columns, rows, [total.row("total")])
        as_of = span.end if span.end < self._clock.now() else None  # a past period: what was owed at its end
        owed = None if self._ledger is None else owed_by_merchant(self._ledger, merchant_id, as_of=as_of)
        return attrs.evolve(report, owed=owed)

    # --- analytics ------------------------------------------------------------------------------------------------

    def analytics(self, merchant_id: str, *, days: int = 30) -> Analytics:
        """The last ``days`` Nairobi days (today included): volume per day and rail, invoices paid vs expired."""
        if not 1 <= days <= 366:
            raise InvalidInput("analytics cover 1 to 366 days", field="days")
        today = self._clock.now().astimezone(NAIROBI).date()
        span = report_span("day", (today - timedelta(days=days - 1)).isoformat(), None, today=today)
        credits = (credit for credit, _ in self._credits(merchant_id, span))
        return analyse(span, credits, self._invoices_created(merchant_id, span))

    def _invoices_created(self, merchant_id: str, span: ReportSpan) -> Iterator[Invoice]:
        def page(before: str | None, limit: int) -> list[Invoice]:
            return in_transaction(
                self._uow,
                lambda uow: uow.invoices.created_between(merchant_id, span.start, span.end, before=before, limit=limit),
            )

        yield from each(page, _id_of, page=_PAGE)

    # --- reading --------------------------------------------------------------------------------------------------

    def _report(
        self,
        kind: str,
        merchant_id: str,
        span: ReportSpan,
        columns: tuple[str, ...],
        rows: list[dict[str, str]],
        totals: list[dict[str, str]],
    ) -> Report:
        return Report(
            kind,
            merchant_id,
            span.period.value,
            span.first,
            span.last,
            columns,
            tuple(rows),
            tuple(totals),
            next_first=span.next_first,
        )

    def _credits(self, merchant_id: str, span: ReportSpan) -> Iterator[tuple[PaymentCredit, Bucket]]:
        """Standing credits (not withdrawn by a reorganisation) made within the span, with their bucket."""

        def page(after: str | None, limit: int) -> list[PaymentCredit]:
            return in_transaction(
                self._uow,
                lambda uow: uow.payment_credits.credited_between(
                    merchant_id, span.start, span.end, after=after, limit=limit
                ),
            )

        for credit in each(page, _id_of, page=_PAGE):
            bucket = span.bucket_of(credit.credited_at)
            if credit.reversal_entry_id is None and not credit.held and bucket is not None:  # held: not the merchant's
                yield credit, bucket

    def _settlements(self, merchant_id: str, span: ReportSpan) -> Iterator[Settlement]:
        def page(after: str | None, limit: int) -> list[Settlement]:
            return in_transaction(
                self._uow, lambda uow: uow.settlements.list_for_merchant(merchant_id, before=after, limit=limit)
            )

        for settlement in each(page, _id_of, page=_PAGE):
            if span.start <= settlement.created_at < span.end:
                yield settlement

    def _payouts(self, merchant_id: str) -> Iterator[Payout]:
        def page(after: str | None, limit: int) -> list[Payout]:
            return in_transaction(
                self._uow, lambda uow: uow.payouts.list_for_merchant(merchant_id, before=after, limit=limit)
            )

        yield from each(page, _id_of, page=_PAGE)


def _charged_in(payout: Payout, span: ReportSpan) -> Bucket | None:
    """The bucket a completed payout's charge falls in (by when it completed), if it has one in the span."""
    finished = payout.finished_at
    if payout.state is not PayoutState.COMPLETED or finished is None or not payout.charge.is_positive():
        return None
    return span.bucket_of(finished)


def _id_of(item: PaymentCredit | Settlement | Payout | Invoice) -> str:
    return item.id


@attrs.define
class _Sales:
    payments: int = 0
    received: Money | None = None
    fees: Money | None = None

    def add(self, credit: PaymentCredit) -> None:
        self.payments += 1
        self.received = _plus(self.received, credit.received)
        self.fees = _plus(self.fees, credit.fee)

    def merge(self, other: _Sales) -> None:
        self.payments += other.payments
        self.received = _plus(self.received, other.received)
        self.fees = _plus(self.fees, other.fees)

    def row(self, label: str, asset: str) -> dict[str, str]:
        assert self.received is not None and self.fees is not None
        net = self.received - self.fees
        return {
            "period": label,
            "asset": asset,
            "payments": str(self.payments),
            "received": str(self.received.amount),
            "fees": str(self.fees.amount),
            "net": str(net.amount),
        }


def _plus(mine: Money | None, theirs: Money | None) -> Money | None:
    if mine is None or theirs is None:
        return theirs if mine is None else mine
    return mine + theirs


def _kes() -> Money:
    return Money.zero(KES)


@attrs.define
class _Settled:
    COLUMNS = (
        "period",
        "settlements",
        "credited",
        "fx_spread",
        "paid_out",
        "payout_charges",
        "in_flight",
        "failed_payouts",
        "currency",
    )
    settlements: int = 0
    credited: Money = attrs.Factory(_kes)
    fx_spread: Money = attrs.Factory(_kes)
    paid_out: Money = attrs.Factory(_kes)
    charges: Money = attrs.Factory(_kes)
    in_flight: Money = attrs.Factory(_kes)
    failed: int = 0

    def add(self, settlement: Settlement, payouts: list[Payout]) -> None:
        self.settlements += 1
        self.credited += settlement.credited
        self.fx_spread += settlement.fx_spread
        for payout in payouts:
            if payout.state is PayoutState.COMPLETED:
                self.paid_out += payout.amount
                self.charges += payout.charge
            elif payout.state is PayoutState.FAILED:
                self.failed += 1
            else:
                self.in_flight += payout.amount

    def merge(self, other: _Settled) -> None:
        self.settlements += other.settlements
        self.credited += other.credited
        self.fx_spread += other.fx_spread
        self.paid_out += other.paid_out
        self.charges += other.charges
        self.in_flight += other.in_flight
        self.failed += other.failed

    def row(self, label: str) -> dict[str, str]:
        return {
            "period": label,
            "settlements": str(self.settlements),
            "credited": str(self.credited.amount),
            "fx_spread": str(self.fx_spread.amount),
            "paid_out": str(self.paid_out.amount),
            "payout_charges": str(self.charges.amount),
            "in_flight": str(self.in_flight.amount),
            "failed_payouts": str(self.failed),
            "currency": "KES",
        }


def _fee_totals(rows: list[dict[str, str]], names: tuple[str, ...]) -> list[dict[str, str]]:
    """Per product and asset, the sum of every amount column."""
    sums: dict[tuple[str, str], dict[str, Decimal]] = {}
    for row in rows:
        key = (row["product"], row["asset"])
        acc = sums.setdefault(key, defaultdict(Decimal))
        for column in ("fees", *names, "net_of_tax"):
            acc[column] += Decimal(row[column])
    return [
        {"period": "total", "product": product, "asset": asset, **{c: str(v) for c, v in acc.items()}}
        for (product, asset), acc in sorted(sums.items())
    ]
