"""A merchant's day at a glance (the dashboard's home): what was paid today, what is open, what is owed.

A read model over invoices and ledger balances; it decides nothing and writes nothing.

- ``paid``: invoices settled whose creation falls in the day, summed per price currency, with their count.
- ``open``: invoices still new or processing (waiting for payment or confirmations), counted by the repository
  (``OPEN``: ``Listings.count_invoices``); the day's invoices come from one bounded range query
  (``Listings.invoices_created``), never from a walk over every invoice.
- ``due``: what the platform owes the merchant and has not paid out yet: the available balance of each of its
  liability accounts (``flows.merchant_liability``), in crypto before settlement and in KES before payout.
- ``owes`` (``owed_by_merchant``): what the merchant owes the platform, the other way round: refunds after its
  crypto was settled that it funded on credit (R25, ``flows.merchant_receivable``), netted from its next
  settlements. Shown beside ``due`` on the dashboard, in the settlements report and on the monthly statement.

>>> summary = summarise([], 0, {})
>>> summary.paid, summary.paid_count, summary.open_count, summary.due
({}, 0, 0, [])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.ledger.model import AccountBalance
from cryptopay.core.money import KES, Money

if TYPE_CHECKING:
    from cryptopay.core.ledger.service import Ledger

__all__ = ["OPEN", "MerchantSummary", "owed_by_merchant", "summarise"]

OPEN = (InvoiceState.NEW, InvoiceState.PROCESSING)


@attrs.frozen
class MerchantSummary:
    paid: dict[str, Money]  # price currency -> total of the day's settled invoices
    paid_count: int
    created_count: int
    open_count: int
    due: list[Money]  # positive available balances owed to the merchant, by asset
    # what the merchant owes for refunds after settlement (``owed_by_merchant``)
    owes: Money = attrs.Factory(lambda: Money.zero(KES))


def owed_by_merchant(ledger: Ledger, merchant_id: str, *, as_of: datetime | None = None) -> Money:
    """What ``merchant_id`` owes the platform now, in KES: its receivable's posted balance (refunds it funded after
    settlement, less what its settlements netted); zero when it owes nothing. With ``as_of``, what it owed at that
    moment (a monthly statement's end): the receivable's balance after its last entry made before then."""
    receivable = flows.merchant_receivable(merchant_id)
    if as_of is None:
        found = ledger.balances([receivable]).get(receivable)
        owed = found.posted if found is not None else Money.zero(KES)
    else:
        last = ledger.entries(account=receivable, limit=1, until=as_of)
        after = [line.balance_after for entry in last for line in entry.lines if line.account == receivable]
        owed = Money.of(after[-1], KES) if after else Money.zero(KES)
    return owed if owed.is_positive() else Money.zero(KES)


def summarise(
    todays: Iterable[Invoice],
    open_count: int,
    balances: Mapping[str, AccountBalance],
    *,
    owes: Money = Money.zero(KES),
) -> MerchantSummary:
    """Sum the day's invoices (``todays``: those created today), with the open count, the liability balances and
    what the merchant owes (``owed_by_merchant``)."""
    paid: dict[str, Money] = {}
    paid_count = created = 0
    for invoice in todays:
        created += 1
        if invoice.state is InvoiceState.SETTLED:
            paid_count += 1
            code = invoice.price.asset.code
            paid[code] = paid.get(code, Money.zero(invoice.price.asset)) + invoice.price
    due = [b.available for b in balances.values() if b.available.is_positive()]
    return MerchantSummary(paid, paid_count, created, open_count, sorted(due, key=lambda m: m.asset.code), owes)
