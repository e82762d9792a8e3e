"""data_protection.feature on real parts: PostgreSQL, with personal data sealed by the vault and phones and emails
looked up by keyed hashes, as the deployment stores them."""

from collections.abc import Iterator

import pytest
from cryptopay.adapters.sql.audit import SqlAuditLog
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.testing.notifications import InMemoryNotifier
from pytest_bdd import scenarios
from sqlalchemy.engine import Engine

from features.data_protection_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.data_protection_steps import PrivacyWorld
from features.real_parts import (  # noqa: F401  (the real deployment's fixtures, by name)
    database_url,
    journey_engine,
    postgres_admin_url,
)
from tests.contract.conftest import sql_backend_from_engine
from tests.support.sql_backends import empty_postgres
from tests.support.wallet_stack import wallet_stack

scenarios("data_protection.feature")


@pytest.fixture
def privacy_world(journey_engine: Engine) -> Iterator[PrivacyWorld]:  # noqa: F811  (the fixture, by name)
    """The wallet stack on empty PostgreSQL tables (personal data sealed); the books balance at the end."""
    empty_postgres(journey_engine)
    backend = sql_backend_from_engine(journey_engine)
    stack = wallet_stack(backend)
    exports = SubjectExports(backend.storage.unit_of_work, stack.ledger, stack.clock, InMemoryNotifier(), stack.sms)

    def audit_about(*args, **kwargs):
        with journey_engine.connect() as conn:
            return SqlAuditLog(conn).about(*args, **kwargs)

    yield PrivacyWorld(stack, exports, audit_about)
    assert not any(stack.ledger.trial_balance().values()), stack.ledger.trial_balance()
