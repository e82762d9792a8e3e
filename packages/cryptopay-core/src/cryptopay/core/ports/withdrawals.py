"""Withdrawal ports: the withdrawals a wallet requested, the unit of work that holds them with the wallets, and the
chains' network fee estimate shown before a user confirms.

Repositories hand out copies (a change counts once ``update``-d); ``get(..., lock=True)`` locks the row until the
transaction ends.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from cryptopay.core.money import Money
from cryptopay.core.ports.chains import ChainSender, WithdrawalRequest
from cryptopay.core.ports.kyc import KycApplicationRepository
from cryptopay.core.ports.payments import DepositAddressRepository
from cryptopay.core.ports.travel_rule import TravelRuleRepository
from cryptopay.core.ports.wallets import WalletUnitOfWork
from cryptopay.core.wallets.withdrawal_model import Withdrawal, WithdrawalState

__all__ = [
    "HotWalletSender",
    "NetworkFeeEstimator",
    "WithdrawalRepository",
    "WithdrawalUnitOfWork",
    "WithdrawalUowFactory",
]


class WithdrawalRepository(Protocol):
    def add(self, withdrawal: Withdrawal) -> None:
        """Store a new withdrawal; ``Conflict`` if its id exists."""
        ...

    def get(self, withdrawal_id: str, *, lock: bool = False) -> Withdrawal | None: ...

    def update(self, withdrawal: Withdrawal) -> None:
        """Store its new state; ``NotFound`` for an unknown id."""
        ...

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Withdrawal]:
        """The user's withdrawals, newest first (by id, descending), strictly before ``after``."""
        ...

    def to_address(self, user_id: str, network: str, address: str) -> list[Withdrawal]:
        """The user's withdrawals to ``address`` (its normal form) on ``network``, oldest first."""
        ...

    def due(self, now: datetime, *, limit: int, after: tuple[datetime, str] | None = None) -> list[Withdrawal]:
        """Requested withdrawals whose ``send_after`` is at or before ``now``, oldest first (by ``send_after``, then
        id), after ``after`` (a keyset page)."""
        ...

    def list(
        self, *, state: WithdrawalState | None = None, after: str | None = None, limit: int = 100
    ) -> list[Withdrawal]:
        """Every user's withdrawals (for operators), by id ascending, strictly after ``after``."""
        ...


class WithdrawalUnitOfWork(WalletUnitOfWork, Protocol):
    """The wallet repositories, withdrawals, Travel Rule records, KYC applications (the originator's data) and the
    deposit address registry (a withdrawal to an address the platform controls is refused)."""

    @property
    def withdrawals(self) -> WithdrawalRepository: ...

    @property
    def travel_rule(self) -> TravelRuleRepository: ...

    @property
    def kyc_applications(self) -> KycApplicationRepository: ...

    @property
    def deposit_addresses(self) -> DepositAddressRepository: ...


class WithdrawalUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[WithdrawalUnitOfWork]: ...


class NetworkFeeEstimator(Protocol):
    """What the network would charge now for ``request`` (in the network's coin: ETH, POL, TRX, BTC...)."""

    def estimate_fee(self, request: WithdrawalRequest) -> Money: ...


class HotWalletSender(ChainSender, NetworkFeeEstimator, Protocol):
    """A network's hot-wallet sender that also estimates what a withdrawal would cost (every adapter's sender)."""
