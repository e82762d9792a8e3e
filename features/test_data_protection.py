"""data_protection.feature on the in-memory parts: the wallet stack, KYC applications and sessions in memory."""

import pytest
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.storage import InMemoryAuditLog
from pytest_bdd import scenarios

from features.data_protection_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.data_protection_steps import PrivacyWorld
from tests.support.privacy_stack import privacy_storage
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import wallet_stack

scenarios("data_protection.feature")


@pytest.fixture
def privacy_world() -> PrivacyWorld:
    storage = privacy_storage()
    stack = wallet_stack(Backend("memory", storage))
    exports = SubjectExports(storage.unit_of_work, stack.ledger, stack.clock, InMemoryNotifier(), stack.sms)
    return PrivacyWorld(stack, exports, lambda *a, **k: InMemoryAuditLog(storage.audit_records()).about(*a, **k))
