"""What data protection reads and erases: one transaction over a person's records in every product."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from cryptopay.core.ports.deposits import WalletDepositRepository
from cryptopay.core.ports.identity import MerchantRepository, RefreshTokenRepository, TeamRepository, UserRepository
from cryptopay.core.ports.kyc import KycApplicationRepository, KycRepository
from cryptopay.core.ports.payments import PayoutRepository
from cryptopay.core.ports.storage import UnitOfWork
from cryptopay.core.ports.wallets import BuyRepository, TransferRepository, WalletRepository
from cryptopay.core.ports.withdrawals import WithdrawalRepository

__all__ = ["PrivacyUnitOfWork", "PrivacyUowFactory"]


class PrivacyUnitOfWork(UnitOfWork, Protocol):
    """The repositories holding a data subject's records (their audit records come from ``audit.about``)."""

    @property
    def users(self) -> UserRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def kyc(self) -> KycRepository: ...

    @property
    def kyc_applications(self) -> KycApplicationRepository: ...

    @property
    def wallets(self) -> WalletRepository: ...

    @property
    def wallet_transfers(self) -> TransferRepository: ...

    @property
    def wallet_buys(self) -> BuyRepository: ...

    @property
    def wallet_deposits(self) -> WalletDepositRepository: ...

    @property
    def withdrawals(self) -> WithdrawalRepository: ...

    @property
    def payouts(self) -> PayoutRepository: ...

    @property
    def merchants(self) -> MerchantRepository: ...

    @property
    def teams(self) -> TeamRepository: ...


class PrivacyUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[PrivacyUnitOfWork]: ...
