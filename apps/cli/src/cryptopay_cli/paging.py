"""Reading every row of a keyset-paginated repository, and reads in one unit of work, for the payment commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from cryptopay.core.errors import NotFound
from cryptopay.core.invoices import Invoice
from cryptopay.core.payments import Payout, PayoutState, Settlement, StoreSettings
from cryptopay.core.ports.payments import PaymentsUnitOfWork

if TYPE_CHECKING:  # imported when a command runs: keeps `--help` light
    from cryptopay.adapters.bootstrap import Services

__all__ = ["all_invoices", "all_payouts", "all_settlements", "all_stores", "pages", "read"]

T = TypeVar("T")
_PAGE = 100


def pages(fetch: Callable[[str | None], list[T]], key: Callable[[T], str]) -> Iterator[T]:
    """Every item of a listing ``fetch(after)`` that returns pages ordered by ``key``, strictly after ``after``.

    >>> rows = ["a", "b", "c"]
    >>> list(pages(lambda after: [r for r in rows if after is None or r > after][:2], key=str))
    ['a', 'b', 'c']
    """
    after: str | None = None
    while page := fetch(after):
        yield from page
        after = key(page[-1])


def read(svc: Services, work: Callable[[PaymentsUnitOfWork], T]) -> T:
    """Run a read in one payments unit of work."""
    with svc.uow() as uow:
        return work(uow)


def all_stores(svc: Services) -> Iterator[StoreSettings]:
    """Every merchant store, by merchant id."""

    def fetch(after: str | None) -> list[StoreSettings]:
        return read(svc, lambda uow: uow.stores.list(after=after, limit=_PAGE))

    return pages(fetch, lambda s: s.merchant_id)


def _merchant_ids(svc: Services, merchant_id: str | None) -> list[str]:
    """The one merchant asked for (``NotFound`` if it has no store), or every merchant with a store."""
    if merchant_id is None:
        return [store.merchant_id for store in all_stores(svc)]
    if read(svc, lambda uow: uow.stores.get(merchant_id)) is None:
        raise NotFound(f"no merchant {merchant_id} with store settings")
    return [merchant_id]


def all_invoices(svc: Services, merchant_id: str | None = None) -> Iterator[Invoice]:
    """Every invoice of one merchant (or of every merchant with a store), by merchant then id."""
    for merchant in _merchant_ids(svc, merchant_id):

        def fetch(after: str | None, m: str = merchant) -> list[Invoice]:
            found: list[Invoice] = svc.invoicing.list_invoices(m, after=after, limit=_PAGE)
            return found

        yield from pages(fetch, lambda i: i.id)


def all_settlements(svc: Services, merchant_id: str | None = None) -> Iterator[Settlement]:
    """Every settlement of one merchant (or of every merchant with a store), by merchant then id."""
    for merchant in _merchant_ids(svc, merchant_id):

        def fetch(after: str | None, m: str = merchant) -> list[Settlement]:
            return read(svc, lambda uow: uow.settlements.list_for_merchant(m, after=after, limit=_PAGE))

        yield from pages(fetch, lambda s: s.id)


def all_payouts(svc: Services, state: PayoutState | None = None, *, limit: int = 10_000) -> list[Payout]:
    """Payouts in ``state`` (every state if None), oldest first within a state (the repository's listing)."""

    def in_state(s: PayoutState) -> list[Payout]:
        return read(svc, lambda uow: uow.payouts.by_state(s, limit=limit))

    return [p for s in ([state] if state else list(PayoutState)) for p in in_state(s)]
