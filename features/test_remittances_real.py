"""remittances.feature on real parts: PostgreSQL for the orders, invoices, payouts, refunds and the books, and M-Pesa
over HTTP to the Daraja sandbox, whose results come back through a callback sink to the payout handler, as the HTTP
hooks would bring them. The chain is the fake one (``cryptopay demo wallet`` pays a remittance on anvil end to end).
Three scenarios run here; all of them run in memory in test_remittances.py."""

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.payouts.service import Payouts, PayoutUrls
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
from features.remittances_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.contract.conftest import sql_backend_from_engine
from tests.support.real_payments_stack import TrackedDarajaSandbox
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
    certificate, certificate_path = daraja_certificate
    sandbox = TrackedDarajaSandbox(
        DarajaSandboxConfig(private_key_pem=certificate.private_key_pem, callback_delay=0.0, response_delay=1.0)
    )
    sandbox.start()
    sink = CallbackSink.start()
    settings = {**sandbox.client_settings(), "certificate_path": str(certificate_path)}
    gateway = DarajaGateway(DarajaSettings(**settings, backoff_seconds=0.01, timeout_seconds=5.0))
    try:
        stack = build(sql_backend_from_engine(journey_engine))
        urls = PayoutUrls(
            result=sink.url_for("/payouts/result"),
            timeout=sink.url_for("/payouts/timeout"),
            status_result=sink.url_for("/status/result"),
            status_timeout=sink.url_for("/status/timeout"),
        )
        wallet = stack.wallet
        payouts = Payouts(
            uow=wallet.backend.uow,
            clock=wallet.clock,
            ids=wallet.sells.ids,
            ledger=wallet.ledger,
            gateway=gateway,
            urls=urls,
        )
        wallet.mpesa, wallet.payouts = sandbox.engine, payouts  # scenarios are set on the sandbox's own engine
        stack.remittances = attrs.evolve(stack.remittances, payouts=payouts)
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

        stack.answers = answers
        yield stack
        assert stack.books_balanced()
    finally:
        gateway.close()
        sink.stop()
        sandbox.stop()
