"""The speed policy (speed_policy.feature) on PostgreSQL: the store's tiers, the invoices, their payments and the
books in the SQL adapters (Daraja over HTTP to its sandbox, as in the merchant journey on real parts).

The chain stays the fake Ethereum, whose ``finals`` a scenario sets: a real node's ``safe``/``finalized`` tags
(anvil) and Tron's solidified head (the TronGrid simulator) are held to the same ``FinalitySource`` contract in
tests/contract/test_finality_source_contract.py. Each scenario starts from empty tables and must leave the books
balanced."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.sandbox.certs import SandboxCertificate
from pytest_bdd import scenarios
from sqlalchemy.engine import Engine

from features.real_parts import (  # noqa: F401  (the real deployment's fixtures, by name)
    daraja_certificate,
    database_url,
    journey_engine,
    postgres_admin_url,
)
from features.speed_policy_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.support.real_payments_stack import RealPaymentsStack
from tests.support.sql_backends import empty_postgres

scenarios("speed_policy.feature")


@pytest.fixture
def world(
    journey_engine: Engine,  # noqa: F811  (the fixture, by name)
    daraja_certificate: tuple[SandboxCertificate, Path],  # noqa: F811
) -> Iterator[dict]:
    empty_postgres(journey_engine)
    with RealPaymentsStack.running(journey_engine, *daraja_certificate, networks=("ethereum",)) as stack:
        yield {"stack": stack, "tiers": []}
        assert stack.books_balanced(), stack.ledger.trial_balance()
