"""Bitcoin and USDC settlement (bitcoin_and_usdc_settlement.feature) on real parts: PostgreSQL for the books, quotes,
invoices and payouts, Daraja over HTTP to its sandbox, and every price over HTTP from the FX simulator in its
providers' wire formats: USD/KES from ExchangeRate-API, BTC/USD and USDC/USD from three exchanges (Binance, Kraken,
Coinbase), crossed by the production ``Pricer``. The chains stay fake, as in the merchant journey on real parts.
Each scenario starts from empty tables and must leave the books balanced."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters.fx import BinanceTickerSource, CoinbaseTickerSource, ExchangeRateApiSource, KrakenSpreadSource
from cryptopay.core.ports.fx import RateSource
from cryptopay.core.pricing import Pricer
from cryptopay.sandbox.certs import SandboxCertificate
from pytest_bdd import scenarios
from sqlalchemy.engine import Engine

from features.bitcoin_and_usdc_settlement_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.real_parts import (  # noqa: F401  (the real deployment's fixtures, by name)
    daraja_certificate,
    database_url,
    journey_engine,
    postgres_admin_url,
)
from tests.support.fx_sandbox import FxSandbox, running_fx_sandbox
from tests.support.real_payments_stack import RealPaymentsStack
from tests.support.sql_backends import empty_postgres

scenarios("bitcoin_and_usdc_settlement.feature")

EXCHANGES = ("binance", "kraken", "coinbase")


@pytest.fixture(scope="module")
def fx_sandbox() -> Iterator[FxSandbox]:
    with running_fx_sandbox() as running:
        yield running


class SimulatedMarkets:
    """The FX simulator over HTTP: ExchangeRate-API for USD/KES and three exchanges for BTC/USD and USDC/USD.

    The stack's pricer is replaced by one over these HTTP sources only (its in-memory market is dropped), and the
    use cases are wired again around it."""

    forex_source = "exchangerate-api"

    def __init__(self, stack: RealPaymentsStack, sandbox: FxSandbox) -> None:
        self.stack, self.sandbox = stack, sandbox
        sandbox.control("reset")
        self.forex_api: RateSource = ExchangeRateApiSource(sandbox.url, "sandbox", timeout=2.0)
        self.exchanges: tuple[RateSource, ...] = (
            BinanceTickerSource(sandbox.url, timeout=2.0),
            KrakenSpreadSource(sandbox.url, timeout=2.0),
            CoinbaseTickerSource(sandbox.url, timeout=2.0),
        )
        self._price_from((self.forex_api, *self.exchanges))

    def _price_from(self, sources: tuple[RateSource, ...]) -> None:
        stack = self.stack
        stack.pricer = Pricer(list(sources), clock=stack.clock, ids=stack.ids, quotes=stack.quotes)
        stack.wire_use_cases(gateway=stack.gateway)

    def close(self) -> None:
        for source in (self.forex_api, *self.exchanges):
            source.close()  # type: ignore[attr-defined]

    def forex(self, usd_kes: str) -> None:
        self.sandbox.set_rate("exchangerate-api", "USD/KES", usd_kes)

    def bitcoin(self, prices: tuple[str, str, str]) -> None:
        for exchange, price in zip(EXCHANGES, prices, strict=True):
            self.sandbox.set_rate(exchange, "BTC/USD", price)

    def usdc(self, price: str) -> None:
        for exchange in EXCHANGES:
            self.sandbox.set_rate(exchange, "USDC/USD", price)

    def no_bitcoin(self) -> None:
        # a deployment configured with no exchange: ExchangeRate-API answers BTC/USD "unsupported-code", so
        # nothing can price BTC/KES (an exchange that is merely down would not make the rail unpriced)
        self._price_from((self.forex_api,))


@pytest.fixture
def world(
    journey_engine: Engine,  # noqa: F811  (the fixture, by name)
    daraja_certificate: tuple[SandboxCertificate, Path],  # noqa: F811
    fx_sandbox: FxSandbox,
) -> Iterator[dict]:
    empty_postgres(journey_engine)
    with RealPaymentsStack.running(journey_engine, *daraja_certificate, networks=("bitcoin", "polygon")) as stack:
        markets = SimulatedMarkets(stack, fx_sandbox)
        yield {"stack": stack, "markets": markets}
        markets.close()
        assert stack.books_balanced(), stack.ledger.trial_balance()
