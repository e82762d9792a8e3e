"""Storage for data protection tests: the wallet repositories plus KYC applications and sessions, in memory."""

from __future__ import annotations

from cryptopay.core.testing.identity import InMemoryRefreshTokens, InMemoryUsers
from cryptopay.core.testing.kyc import InMemoryKycApplications, InMemoryKycProfiles
from cryptopay.core.testing.payments import payments_storage
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.wallets import (
    InMemoryBuys,
    InMemoryPhoneVerifications,
    InMemoryTransfers,
    InMemoryUsage,
    InMemoryWallets,
)

__all__ = ["privacy_storage"]


def privacy_storage() -> InMemoryStorage:
    """Every repository a data subject's records live in (``PrivacyUnitOfWork``), in memory."""
    return payments_storage(
        users=InMemoryUsers(),
        kyc=InMemoryKycProfiles(),
        wallets=InMemoryWallets(),
        phone_verifications=InMemoryPhoneVerifications(),
        wallet_transfers=InMemoryTransfers(),
        wallet_usage=InMemoryUsage(),
        wallet_buys=InMemoryBuys(),
        kyc_applications=InMemoryKycApplications(),
        refresh_tokens=InMemoryRefreshTokens(),
    )
