"""wallet_bills.feature on real parts: PostgreSQL for the wallets, the books and the payouts, and M-Pesa over HTTP
to the Daraja sandbox (its simulated billers: 888880 answers with a prepaid token, account 00000000000 is refused),
whose results come back through a callback sink to the payout handler, as the HTTP hooks would bring them. Two
scenarios run here; all of them run in memory in test_wallet_bills.py."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.payouts.service import Payouts, PayoutUrls
from cryptopay.core.wallets.bills import Bills
from cryptopay.sandbox.certs import SandboxCertificate
from cryptopay.sandbox.daraja import DarajaSandboxConfig
from cryptopay.sandbox.sink import CallbackSink
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
from tests.support.real_payments_stack import TrackedDarajaSandbox
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
    certificate, certificate_path = daraja_certificate
    sandbox = TrackedDarajaSandbox(
        DarajaSandboxConfig(private_key_pem=certificate.private_key_pem, callback_delay=0.0, response_delay=1.0)
    )
    sandbox.start()
    sink = CallbackSink.start()
    settings = {**sandbox.client_settings(), "certificate_path": str(certificate_path)}
    gateway = DarajaGateway(DarajaSettings(**settings, backoff_seconds=0.01, timeout_seconds=5.0))
    try:
        stack = wallet_stack(sql_backend_from_engine(journey_engine))
        urls = PayoutUrls(
            result=sink.url_for("/payouts/result"),
            timeout=sink.url_for("/payouts/timeout"),
            status_result=sink.url_for("/status/result"),
            status_timeout=sink.url_for("/status/timeout"),
        )
        payouts = Payouts(
            uow=stack.backend.uow,
            clock=stack.clock,
            ids=stack.sells.ids,
            ledger=stack.ledger,
            gateway=gateway,
            urls=urls,
        )
        stack.mpesa, stack.payouts = sandbox.engine, payouts  # the steps read the billers' balances there
        sells = stack.sells
        bills = Bills(stack.backend.uow, stack.ledger, sells.quoter, sells.quotes, stack.clock, sells.ids)
        seen = [0]

        def answers() -> None:
            sandbox.wait_idle()
            fresh = sink.received[seen[0] :]
            seen[0] += len(fresh)
            for received in fresh:
                url = sink.url_for(received.path)
                purpose = urls.purpose_of(url)
                assert purpose is not None, url
                payouts.handle_payout_result(
                    parse_payload(received.payload), token=url.rsplit("/", 1)[-1], purpose=purpose
                )

        yield BillsWorld(stack, bills, payouts, answers)
        assert set(stack.ledger.trial_balance().values()) <= {0}
    finally:
        gateway.close()
        sink.stop()
        sandbox.stop()
