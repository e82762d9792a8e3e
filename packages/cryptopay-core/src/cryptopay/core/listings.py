"""Read models for listings: per-merchant, cursor-paged queries every shell runs (nothing pages in memory).

Each page is one keyset query of a repository (``ports.payments``): a merchant's invoices, settlements and payouts
newest first (by id, descending) strictly before the cursor ``before``; merchants and stores by id, ascending,
strictly after ``after``; at most ``limit`` of them. ``each`` walks a listing page by page for the commands and the
reconciliation that need every row; it holds one page at a time.

>>> from cryptopay.core.testing.payments import payments_storage, payments_uow
>>> listings = Listings(uow=payments_uow(payments_storage()))
>>> listings.payouts("m1", before=None, limit=10)
[]
>>> rows = ["a", "b", "c"]
>>> list(each(lambda after, limit: [r for r in rows if after is None or r > after][:limit], key=str, page=2))
['a', 'b', 'c']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from cryptopay.core.errors import InvalidInput, NotFound, Unavailable
from cryptopay.core.identity.model import Merchant
from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.payments.model import StoreSettings
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.settlement.model import Settlement

if TYPE_CHECKING:
    from cryptopay.core.ports.identity import MerchantRepository
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["PAGE", "Listings", "each"]

T = TypeVar("T")
PAGE = 100


def each(fetch: Callable[[str | None, int], list[T]], key: Callable[[T], str], *, page: int = PAGE) -> Iterator[T]:
    """Every item of a keyset listing ``fetch(cursor, limit)`` in its order, one page at a time: the cursor is the
    ``key`` of the last item seen (``after`` it in an ascending listing, ``before`` it in a newest-first one)."""
    cursor: str | None = None
    while found := fetch(cursor, page):
        yield from found
        if len(found) < page:
            return
        cursor = key(found[-1])


class Listings:
    """The merchant-payment listings: merchants, stores, invoices, settlements and payouts, one page per call."""

    def __init__(self, *, uow: PaymentsUowFactory, merchants: MerchantRepository | None = None) -> None:
        self._uow, self._merchants = uow, merchants

    def _read(self, work: Callable[[PaymentsUnitOfWork], T]) -> T:
        return in_transaction(self._uow, work)

    def stores(self, *, after: str | None, limit: int) -> list[StoreSettings]:
        """Merchants' store settings, by merchant id."""
        return self._read(lambda uow: uow.stores.list(after=after, limit=limit))

    def store(self, merchant_id: str) -> StoreSettings | None:
        """One merchant's store settings, if it has a store."""
        return self._read(lambda uow: uow.stores.get(merchant_id))

    def merchants(self, *, after: str | None, limit: int) -> list[tuple[Merchant, StoreSettings | None]]:
        """Merchants by id, each with its store settings (None before it has a store)."""
        if self._merchants is None:
            raise Unavailable("this deployment offers no merchant repository")
        found = self._merchants.list(after=after, limit=limit)
        return [(merchant, self.store(merchant.id)) for merchant in found]

    def merchant_ids(self, merchant_id: str | None = None) -> list[str]:
        """The one merchant asked for (``NotFound`` if it has no store), or every merchant with a store."""
        if merchant_id is None:
            return [s.merchant_id for s in each(lambda a, n: self.stores(after=a, limit=n), lambda s: s.merchant_id)]
        if self._read(lambda uow: uow.stores.get(merchant_id)) is None:
            raise NotFound(f"no merchant {merchant_id} with store settings")
        return [merchant_id]

    def invoices(
        self, merchant_id: str, *, before: str | None, limit: int, state: InvoiceState | None = None
    ) -> list[Invoice]:
        """The merchant's invoices (in ``state`` when given), newest first."""
        return self._read(
            lambda uow: uow.invoices.list_for_merchant(merchant_id, before=before, limit=limit, state=state)
        )

    def invoices_created(self, merchant_id: str, since: datetime, until: datetime) -> Iterator[Invoice]:
        """Every invoice the merchant created in [``since``, ``until``), newest first, a page at a time."""

        def page(before: str | None, limit: int) -> list[Invoice]:
            return self._read(
                lambda uow: uow.invoices.created_between(merchant_id, since, until, before=before, limit=limit)
            )

        yield from each(page, _id)

    def find_orders(self, merchant_id: str, text: str, *, limit: int) -> list[Invoice]:
        """At most ``limit`` of the merchant's invoices whose order id contains ``text`` (any case), newest first."""
        return self._read(lambda uow: uow.invoices.find_by_order(merchant_id, text, limit=limit))

    def count_invoices(self, merchant_id: str, states: tuple[InvoiceState, ...]) -> int:
        """How many of the merchant's invoices are in one of ``states``."""
        return self._read(lambda uow: uow.invoices.count_for_merchant(merchant_id, states))

    def settlements(self, merchant_id: str, *, before: str | None, limit: int) -> list[Settlement]:
        """The merchant's settlements, newest first."""
        return self._read(lambda uow: uow.settlements.list_for_merchant(merchant_id, before=before, limit=limit))

    def payouts(
        self, merchant_id: str | None, *, before: str | None, limit: int, state: PayoutState | None = None
    ) -> list[Payout]:
        """One merchant's payouts (in ``state`` when given), or, with no merchant, every payout in ``state``."""
        if merchant_id is not None:
            return self._read(
                lambda uow: uow.payouts.list_for_merchant(merchant_id, before=before, limit=limit, state=state)
            )
        if state is None:
            raise InvalidInput("name a merchant or a state to list payouts", field="merchant_id")
        return self._read(lambda uow: uow.payouts.list_in_state(state, before=before, limit=limit))

    def each_invoice(self, merchant_id: str | None = None, state: InvoiceState | None = None) -> Iterator[Invoice]:
        """Every invoice of one merchant (or of every merchant with a store), by merchant, newest first."""
        for merchant in self.merchant_ids(merchant_id):
            yield from each(partial(self._invoices, merchant, state), _id)

    def each_settlement(self, merchant_id: str | None = None) -> Iterator[Settlement]:
        """Every settlement of one merchant (or of every merchant with a store), by merchant, newest first."""
        for merchant in self.merchant_ids(merchant_id):
            yield from each(partial(self._settlements, merchant), _id)

    def each_payout(self, merchant_id: str | None = None, state: PayoutState | None = None) -> Iterator[Payout]:
        """Every payout of one merchant (or of every merchant with a store), by merchant, newest first."""
        for merchant in self.merchant_ids(merchant_id):
            yield from each(partial(self._payouts, merchant, state), _id)

    def every_payout(self, state: PayoutState | None = None) -> Iterator[Payout]:
        """Every payout whoever it pays (a merchant's settlement, a wallet's sale or bill, a remittance: its
        ``kind``), in ``state`` or in each state in turn, newest first within a state."""
        for each_state in (state,) if state is not None else tuple(PayoutState):
            yield from each(partial(self._in_state, each_state), _id)

    def _in_state(self, state: PayoutState, before: str | None, limit: int) -> list[Payout]:
        return self.payouts(None, before=before, limit=limit, state=state)

    def _invoices(self, merchant_id: str, state: InvoiceState | None, before: str | None, limit: int) -> list[Invoice]:
        return self.invoices(merchant_id, before=before, limit=limit, state=state)

    def _settlements(self, merchant_id: str, before: str | None, limit: int) -> list[Settlement]:
        return self.settlements(merchant_id, before=before, limit=limit)

    def _payouts(self, merchant_id: str, state: PayoutState | None, before: str | None, limit: int) -> list[Payout]:
        return self.payouts(merchant_id, before=before, limit=limit, state=state)


def _id(item: Invoice | Settlement | Payout) -> str:
    return item.id
