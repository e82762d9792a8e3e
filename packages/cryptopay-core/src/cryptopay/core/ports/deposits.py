"""Wallet deposit ports: the deposits repository and the unit of work a deposit is recorded and booked in.

A wallet's deposit addresses live with every other derived address (``DepositAddressRepository``: one index
counter and one unique ``(network, address)`` for invoices and wallets alike, ``owned_by``/``wallet_addresses`` for
the wallet ones). The deposit unit of work adds the wallets (locked while an address is allocated or a deposit
credited), the monitoring journal and alerts (a held deposit's alert commits with it), the ledger, audit and outbox.

Rules the SQL adapter must keep (the in-memory fake does): ``add`` is a ``Conflict`` for a second deposit of one
transfer (unique ``(network, tx_hash, index)``, the hash compared lower-cased); ``watching`` lists a network's
deposits still read for confirmations or reorgs, oldest first; ``for_user`` is newest first by id, strictly
``before`` the cursor; ``every`` by id ascending, strictly ``after`` it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from cryptopay.core.ports.compliance import MonitoringUnitOfWork
from cryptopay.core.ports.payments import DepositAddressRepository
from cryptopay.core.ports.wallets import WalletUnitOfWork
from cryptopay.core.wallets.deposit import Deposit

__all__ = ["DepositUnitOfWork", "DepositUowFactory", "WalletDepositRepository"]


class WalletDepositRepository(Protocol):
    def add(self, deposit: Deposit) -> None:
        """Store a new deposit; ``Conflict`` if its id or its transfer is stored already."""
        ...

    def get(self, deposit_id: str, *, lock: bool = False) -> Deposit | None: ...

    def by_transfer(self, network: str, tx_hash: str, index: int, *, lock: bool = False) -> Deposit | None: ...

    def update(self, deposit: Deposit) -> None: ...

    def watching(self, network: str, *, limit: int) -> list[Deposit]:
        """The network's deposits still watched (``Deposit.watching``), oldest first."""
        ...

    def for_user(self, user_id: str, *, before: str | None, limit: int) -> list[Deposit]:
        """The user's deposits, newest first (by id, descending), strictly before ``before``."""
        ...

    def every(self, *, after: str | None, limit: int) -> list[Deposit]:
        """Every deposit by id, ascending, strictly after ``after`` (reconciliation pages through them)."""
        ...

    def held(self, *, after: str | None, limit: int) -> list[Deposit]:
        """The deposits held now by id, ascending, strictly after ``after`` (compliance's queue, review8 R7)."""
        ...


class DepositUnitOfWork(WalletUnitOfWork, MonitoringUnitOfWork, Protocol):
    """One transaction over the wallets, the derived addresses, the deposits, the monitoring journal and alerts."""

    @property
    def deposit_addresses(self) -> DepositAddressRepository: ...

    @property
    def wallet_deposits(self) -> WalletDepositRepository: ...


class DepositUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[DepositUnitOfWork]: ...
