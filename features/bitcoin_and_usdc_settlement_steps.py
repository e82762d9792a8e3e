"""Steps for bitcoin_and_usdc_settlement.feature over a payments stack and the markets that price it.

The test modules give a ``world`` fixture: ``{"stack": ..., "markets": ...}`` where ``markets`` is a ``Markets``
(the in-memory ``FakeMarkets`` here, or the FX simulator over HTTP in the real-parts module); pytest-bdd registers
the steps as fixtures of the module that imports them (``from features.bitcoin_and_usdc_settlement_steps import *``).
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from cryptopay.core import flows
from cryptopay.core.fx import Pair
from cryptopay.core.money import BTC, KES, USDC, Money
from cryptopay.core.payments.invoicing import UnpricedRail
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.fx import FixedRateSource
from cryptopay.core.testing.payments_stack import PaymentsStack
from pytest_bdd import given, parsers, then, when

AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi
DAILY = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


class Markets(Protocol):
    """Where the stack's prices come from, scripted by the background and the scenarios."""

    forex_source: str  # the name of the source quoting USD/KES, which the cross rate is named after

    def forex(self, usd_kes: str) -> None: ...

    def bitcoin(self, prices: tuple[str, str, str]) -> None: ...

    def usdc(self, price: str) -> None: ...

    def no_bitcoin(self) -> None: ...


class FakeMarkets:
    """The in-memory stack's market (USD/KES, USDC/USD) and three fake exchanges quoting BTC/USD."""

    forex_source = "market"

    def __init__(self, stack: PaymentsStack) -> None:
        self.stack = stack
        self.exchanges = [FixedRateSource(f"exchange-{i}", stack.clock) for i in range(3)]

    def forex(self, usd_kes: str) -> None:
        self.stack.rates.set("USD/KES", usd_kes)

    def bitcoin(self, prices: tuple[str, str, str]) -> None:
        for exchange, price in zip(self.exchanges, prices, strict=True):
            exchange.set("BTC/USD", price)
        self.stack.pricer.sources = (*self.stack.pricer.sources, *self.exchanges)

    def usdc(self, price: str) -> None:
        self.stack.rates.set("USDC/USD", price)

    def no_bitcoin(self) -> None:
        self.stack.pricer.sources = tuple(s for s in self.stack.pricer.sources if s not in self.exchanges)


@given(parsers.parse("a dollar is worth {kes} shillings on the forex market"))
def forex(world, kes):
    world["markets"].forex(kes)


@given(parsers.parse("bitcoin trades at {a}, {b} and {c} dollars on three exchanges"))
def bitcoin_markets(world, a, b, c):
    world["markets"].bitcoin(tuple(p.replace(",", "") for p in (a, b, c)))


@given(parsers.parse("USDC trades at {price} dollar"))
def usdc_market(world, price):
    world["markets"].usdc(price)


@given("no exchange quotes bitcoin")
def no_bitcoin(world):
    world["markets"].no_bitcoin()


@given(parsers.parse("a merchant accepts {what} and is paid out daily over M-Pesa"))
def merchant(world, what):
    rail = {"bitcoin": "btc-bitcoin", "USDC on Polygon": "usdc-polygon"}[what]
    world["stack"].add_merchant("m1", settlement=DAILY, rails=(rail,), fee_percent="0")


@when("a merchant asks what one bitcoin is worth in shillings")
def btc_quote(world):
    world["quote"] = world["stack"].pricer.quote(Pair(BTC, KES))


@when(parsers.parse("a customer pays a KES {price} invoice in {asset} and it is confirmed"))
def pay(world, price, asset):
    stack = world["stack"]
    invoice = stack.invoicing.create_invoice("m1", Money.of(Decimal(price.replace(",", "")), KES))
    stack.pay(invoice.id)
    stack.confirm(3)
    world["invoice"] = invoice


@when("the day's settlement runs")
def settle(world):
    stack = world["stack"]
    stack.clock.set(AFTER_CUTOFF)
    [world["run"]] = stack.settling.run_settlements()


@when(parsers.parse("the merchant asks for {amount} BTC payable in bitcoin"))
def ask_in_btc(world, amount):
    try:
        world["stack"].invoicing.create_invoice("m1", Money.of(amount, BTC))
    except UnpricedRail as refused:
        world["refused"] = refused


@then(parsers.parse("the middle price is KES {mid} from the forex market crossed with the exchanges' middle price"))
def middle_price(world, mid):
    quote = world["quote"]
    assert quote.mid == Decimal(mid.replace(",", ""))
    assert quote.sources == (f"{world['markets'].forex_source} (USD/KES x BTC/USD)",)


@then(parsers.parse("the {asset} is sold for shillings at its own locked rate"))
def sold(world, asset):
    settlement = world["run"].settlement
    assert settlement is not None, world["run"].reason
    [conversion] = settlement.conversions
    code = {"bitcoin": "BTC", "USDC": "USDC"}[asset]
    assert conversion.converted.asset.code == code
    quote = world["stack"].pricer._quotes.get(conversion.quote_id)
    assert quote is not None and quote.pair == Pair(conversion.converted.asset, KES)
    # the customer paid what sells for KES 5,000 at the bid (rounded up to the coin's smallest unit)
    assert Money.of("5000", KES) <= conversion.credited < Money.of("5001", KES)
    asset_code = BTC if code == "BTC" else USDC
    assert world["stack"].balance(flows.merchant_liability("m1", asset_code)).is_zero()


@then("the merchant's shillings are held for one M-Pesa payout")
def held(world):
    run = world["run"]
    assert [p.amount for p in run.payouts] == [run.settlement.credited.whole()]


@then("the books balance")
def books(world):
    assert world["stack"].books_balanced()


@then("the invoice is refused because bitcoin cannot be priced in shillings")
def refused(world):
    assert world["refused"].code == "unpriced_rail" and "BTC/KES" in world["refused"].message


@then("no invoice is made")
def none_made(world):
    assert world["stack"].invoicing.list_invoices("m1") == []
