"""data_protection.feature on the in-memory parts: the wallet stack, KYC applications and sessions in memory."""

import pytest
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.testing.identity import InMemoryRefreshTokens, InMemoryUsers
from cryptopay.core.testing.kyc import InMemoryKycApplications, InMemoryKycProfiles
from cryptopay.core.testing.payments import payments_storage
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.wallets import (
    InMemoryBuys,
    InMemoryPhoneVerifications,
    InMemoryTransfers,
    InMemoryUsage,
    InMemoryWallets,
)
from pytest_bdd import scenarios

from features.data_protection_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.data_protection_steps import PrivacyWorld
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import wallet_stack

scenarios("data_protection.feature")


@pytest.fixture
def privacy_world() -> PrivacyWorld:
    storage = payments_storage(
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
    stack = wallet_stack(Backend("memory", storage))
    exports = SubjectExports(storage.unit_of_work, stack.ledger, stack.clock)
    return PrivacyWorld(stack, exports, lambda *a, **k: InMemoryAuditLog(storage.audit_records()).about(*a, **k))
