"""wallet_bills.feature on real parts: PostgreSQL for the wallets, the books and the payouts, and M-Pesa over HTTP
to the Daraja sandbox (its simulated billers: 888880 answers with a prepaid token, account 00000000000 is refused),
whose results come back through a callback sink to the payout handler, as the HTTP hooks would bring them. Two
scenarios run here; all of them run in memory in test_wallet_bills.py."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.core.wallets.bills import Bills
from cryptopay.sandbox.certs import SandboxCertificate
from pytest_bdd import scenario
from sqlalchemy.engine import Engine

from features.real_parts import (  # noqa: F401  (the real deployment's fixtures, by name)
    daraja_certificate,
    database_url,
    journey_engine,
    postgres_admin_url,
)
from features.wallet_bills_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.wallet_bills_steps import BillsWorld
from tests.contract.conftest import sql_backend_from_engine
from tests.support.real_payments_stack import DarajaOverHttp
from tests.support.sql_backends import empty_postgres
from tests.support.wallet_stack import wallet_stack


# Two scenarios on real parts (the rest run in memory): the token coming back over the wire, and a refusal's refund.
@scenario("wallet_bills.feature", "Buying electricity tokens for a KPLC prepaid meter")
def test_prepaid_token_over_http() -> None:
    """A KPLC prepaid bill over HTTP to the Daraja sandbox, its token back through the result."""


@scenario("wallet_bills.feature", "The biller refuses the account and the money comes back")
def test_refused_bill_over_http() -> None:
    """A bill the sandbox's biller refuses: the hold voided on PostgreSQL, the KES back in the wallet."""


@pytest.fixture
def bills_world(
    journey_engine: Engine,  # noqa: F811  (the fixture, by name)
    daraja_certificate: tuple[SandboxCertificate, Path],  # noqa: F811
) -> Iterator[BillsWorld]:
    """The wallet stack on empty PostgreSQL tables, its payouts sent over HTTP; the books balance at the end."""
    empty_postgres(journey_engine)
    daraja = DarajaOverHttp(*daraja_certificate, callback_delay=0.0, response_delay=1.0)
    try:
        stack = wallet_stack(sql_backend_from_engine(journey_engine))
        payouts = daraja.payouts_for(stack)  # the steps read the billers' balances on the sandbox's engine
        sells = stack.sells
        bills = Bills(stack.backend.uow, stack.ledger, sells.quoter, sells.quotes, stack.clock, sells.ids)
        yield BillsWorld(stack, bills, payouts, daraja.answers_to(payouts))
        assert set(stack.ledger.trial_balance().values()) <= {0}
    finally:
        daraja.close()
