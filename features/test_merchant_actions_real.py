"""Refunds, cancelled invoices and payment links (merchant_actions.feature, payment_links.feature) on real parts: PostgreSQL and Daraja over HTTP.

The same scenarios and steps as test_merchant_actions.py; only the ``stack`` differs (see
``tests.support.real_payments_stack``). Each scenario starts from empty tables and must leave the books balanced.
PostgreSQL is required: without it ``database_url`` fails the run, it never skips.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.sandbox.certs import SandboxCertificate, make_test_certificate
from pytest_bdd import scenarios
from sqlalchemy.engine import Engine

from features.merchant_actions_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.merchant_journey_steps import *  # noqa: F403
from tests.conftest import database_url, postgres_admin_url  # noqa: F401  (features/ is outside tests/conftest.py)
from tests.support.real_payments_stack import RealPaymentsStack
from tests.support.sql_backends import empty_postgres

scenarios("merchant_actions.feature", "payment_links.feature")


@pytest.fixture(scope="session")
def journey_engine(database_url: str) -> Iterator[Engine]:  # noqa: F811  (the fixture, by name)
    """An engine on the session's PostgreSQL database, migrated to the newest revision."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def daraja_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[SandboxCertificate, Path]:
    """A throw-away certificate the gateway encrypts its SecurityCredential with, and the sandbox decrypts."""
    pair = make_test_certificate()
    path = tmp_path_factory.mktemp("journey-mpesa") / "daraja_cert.pem"
    path.write_bytes(pair.certificate_pem)
    return pair, path


@pytest.fixture
def stack(journey_engine: Engine, daraja_certificate: tuple[SandboxCertificate, Path]) -> Iterator[RealPaymentsStack]:
    """The real deployment on empty tables, with its own Daraja sandbox; the trial balance is zero at the end."""
    empty_postgres(journey_engine)
    with RealPaymentsStack.running(journey_engine, *daraja_certificate) as deployment:
        yield deployment
        assert deployment.books_balanced(), deployment.ledger.trial_balance()
