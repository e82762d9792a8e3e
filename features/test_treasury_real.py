"""The treasury (treasury.feature) on real parts: PostgreSQL for the books, payouts and treasury records, and
M-Pesa over HTTP to the Daraja sandbox (its B2C results report the float). The chains stay fake, as in the merchant
journey on real parts; sweeps on a real node are tests/integration/evm/test_evm_treasury_sweeps_anvil.py."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptopay.adapters.sql.repositories.treasury import SqlTreasuryStore
from cryptopay.core.testing.treasury import TreasuryStack
from cryptopay.sandbox.certs import SandboxCertificate
from pytest_bdd import scenarios
from sqlalchemy.engine import Engine

from features.real_parts import (  # noqa: F401  (the real deployment's fixtures, by name)
    daraja_certificate,
    database_url,
    journey_engine,
    postgres_admin_url,
)
from features.treasury_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.support.real_payments_stack import RealPaymentsStack
from tests.support.sql_backends import empty_postgres

scenarios("treasury.feature")


@pytest.fixture
def make_treasury(
    journey_engine: Engine,  # noqa: F811  (the fixture, by name)
    daraja_certificate: tuple[SandboxCertificate, Path],  # noqa: F811
) -> Iterator[Callable[..., TreasuryStack]]:
    """A treasury around the real payments stack on empty tables; the trial balance is zero at the end."""
    empty_postgres(journey_engine)
    made: list[TreasuryStack] = []
    with RealPaymentsStack.running(journey_engine, *daraja_certificate) as payments:

        def make(**options: Any) -> TreasuryStack:
            stack = TreasuryStack(
                payments=payments, store=SqlTreasuryStore(journey_engine), gateway=payments.gateway, **options
            )
            made.append(stack)
            return stack

        yield make
        assert payments.books_balanced(), payments.ledger.trial_balance()
