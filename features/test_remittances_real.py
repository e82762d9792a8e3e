"""remittances.feature on real parts: PostgreSQL for the orders, invoices, payouts, refunds and the books, and M-Pesa
over HTTP to the Daraja sandbox, whose results come back through a callback sink to the payout handler, as the HTTP
hooks would bring them. The chain is the fake one (``cryptopay demo wallet`` pays a remittance on anvil end to end).
Three scenarios run here; all of them run in memory in test_remittances.py."""

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.sandbox.certs import SandboxCertificate
from pytest_bdd import scenario
from sqlalchemy.engine import Engine

from features.real_parts import (  # noqa: F401  (the real deployment's fixtures, by name)
    daraja_certificate,
    database_url,
    journey_engine,
    postgres_admin_url,
)
from features.remittances_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.contract.conftest import sql_backend_from_engine
from tests.support.real_payments_stack import DarajaOverHttp
from tests.support.remittance_stack import RemittanceStack
from tests.support.remittance_stack import remittance_stack as build
from tests.support.sql_backends import empty_postgres


@scenario("remittances.feature", "Achieng receives the shillings on M-Pesa")
def test_remittance_paid_over_http() -> None:
    """A remittance paid by B2C over HTTP to the Daraja sandbox, its result back through the sink, on PostgreSQL."""


@scenario("remittances.feature", "M-Pesa cannot pay Achieng, so Grace gets her USDT back")
def test_remittance_refunded_after_refusals_over_http() -> None:
    """Three B2C refusals from the sandbox, then the USDT refunded: holds voided and reversed on PostgreSQL."""


@scenario(
    "remittances.feature", "M-Pesa's daily limit for Achieng is nearly used, so the remittance waits for midnight"
)
def test_remittance_waits_for_the_daily_limit_over_http() -> None:
    """Earlier payouts to the number over HTTP count towards its daily limit on PostgreSQL; the next waits a day."""


@pytest.fixture
def remittance_stack(
    journey_engine: Engine,  # noqa: F811  (the fixture, by name)
    daraja_certificate: tuple[SandboxCertificate, Path],  # noqa: F811
) -> Iterator[RemittanceStack]:
    """The remittance stack on empty PostgreSQL tables, its payouts sent over HTTP; the books balance at the end."""
    empty_postgres(journey_engine)
    daraja = DarajaOverHttp(*daraja_certificate, callback_delay=0.0, response_delay=1.0)
    try:
        stack = build(sql_backend_from_engine(journey_engine))
        payouts = daraja.payouts_for(stack.wallet)  # scenarios are set on the sandbox's own engine
        stack.remittances = attrs.evolve(stack.remittances, payouts=lambda: payouts)
        stack.answers = daraja.answers_to(payouts)
        yield stack
        assert stack.books_balanced()
    finally:
        daraja.close()
