"""The real deployment the business features also run on: PostgreSQL (migrated) and Daraja over HTTP to its sandbox.

A test module that binds a feature to real parts imports these fixtures (``from features.real_parts import *``)
beside its steps; each scenario starts from empty tables and must leave the books balanced. PostgreSQL is required:
without it ``database_url`` fails the run, it never skips.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.sandbox.certs import SandboxCertificate, make_test_certificate
from sqlalchemy.engine import Engine

from tests.conftest import database_url, postgres_admin_url
from tests.support.real_payments_stack import RealPaymentsStack
from tests.support.sql_backends import empty_postgres

__all__ = ["daraja_certificate", "database_url", "journey_engine", "postgres_admin_url", "stack"]


@pytest.fixture(scope="session")
def journey_engine(database_url: str) -> Iterator[Engine]:
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
