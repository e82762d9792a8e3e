"""Storage for data protection tests: the wallet repositories plus KYC applications and sessions, in memory."""

from __future__ import annotations

from cryptopay.core.testing.deposits import InMemoryWalletDeposits
from cryptopay.core.testing.identity import InMemoryMerchants, InMemoryRefreshTokens, InMemoryTeams
from cryptopay.core.testing.kyc import InMemoryKycApplications
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.withdrawals import InMemoryWithdrawals

from tests.support.wallet_stack import memory_wallet_storage

__all__ = ["privacy_storage"]


def privacy_storage() -> InMemoryStorage:
    """Every repository a data subject's records live in (``PrivacyUnitOfWork``), in memory."""
    return memory_wallet_storage(
        kyc_applications=InMemoryKycApplications(),
        refresh_tokens=InMemoryRefreshTokens(),
        merchants=InMemoryMerchants(),
        teams=InMemoryTeams(),
        wallet_deposits=InMemoryWalletDeposits(),
        withdrawals=InMemoryWithdrawals(),
    )
