"""Remittance ports: the orders, and the unit of work a remittance's steps run in (payments, wallets, orders).

Repositories hand out copies: a change counts once it is ``update``-d. ``get(..., lock=True)`` locks the order's row
until the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL), so two workers never step one order at once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from cryptopay.core.ports.kyc import KycApplicationRepository
from cryptopay.core.ports.payments import PaymentsUnitOfWork
from cryptopay.core.ports.travel_rule import TravelRuleUnitOfWork
from cryptopay.core.ports.wallets import SellUnitOfWork
from cryptopay.core.remittances.model import RemittanceOrder, RemittanceState

__all__ = [
    "RemittanceReadUnitOfWork",
    "RemittanceReadUowFactory",
    "RemittanceRepository",
    "RemittanceUnitOfWork",
    "RemittanceUowFactory",
]


class RemittanceRepository(Protocol):
    def add(self, order: RemittanceOrder) -> None:
        """Store a new order; ``Conflict`` if its id, its public id or its invoice is taken."""
        ...

    def get(self, order_id: str, *, lock: bool = False) -> RemittanceOrder | None: ...

    def by_public_id(self, public_id: str) -> RemittanceOrder | None: ...

    def update(self, order: RemittanceOrder) -> None: ...

    def active(self, *, limit: int = 100) -> list[RemittanceOrder]:
        """Orders the worker still has to move (``RemittanceOrder.is_active``), oldest first."""
        ...

    def by_originator(self, address: str, name: str, *, since: datetime, limit: int = 100) -> list[RemittanceOrder]:
        """Orders opened at or after ``since`` whose ``RemittanceOrder.originator`` has the refund address
        ``address`` or the sender name ``name`` (the keys ``originator_keys`` gives), newest first."""
        ...

    def lock_originator(self, address: str, name: str) -> None:
        """Hold the locks of an originator's keys (``originator_keys``: its refund address and its name) to the end
        of this unit of work: another unit of work locking either waits, so an originator's orders of the last day
        summed and a new order inserted are never interleaved with another new order of theirs."""
        ...

    def list(self, *, state: RemittanceState | None, before: str | None, limit: int) -> list[RemittanceOrder]:
        """Orders newest first (by id, descending), strictly before ``before``, in ``state`` when given."""
        ...


class RemittanceReadUnitOfWork(PaymentsUnitOfWork, Protocol):
    """The orders with the payouts they use: what the gauges read (``cryptopay.core.remittances.watch``)."""

    @property
    def remittances(self) -> RemittanceRepository: ...


class RemittanceReadUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[RemittanceReadUnitOfWork]: ...


class RemittanceUnitOfWork(SellUnitOfWork, PaymentsUnitOfWork, TravelRuleUnitOfWork, Protocol):
    """The orders with the invoices, payouts and refunds they use and the wallets they may credit: one transaction."""

    @property
    def remittances(self) -> RemittanceRepository: ...

    @property
    def kyc_applications(self) -> KycApplicationRepository: ...  # a wallet holder's verified name


class RemittanceUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[RemittanceUnitOfWork]: ...
