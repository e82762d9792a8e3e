"""Steps for speed_policy.feature over a payments stack whose Ethereum is the fake chain (its ``finals`` are the
blocks the network has marked ``safe``/``finalized``).

The test modules give a ``world`` fixture: ``{"stack": ..., "tiers": []}``, the in-memory ``PaymentsStack`` or the
real deployment on PostgreSQL; pytest-bdd registers the steps as fixtures of the module that imports them.
"""

from cryptopay.core.errors import InvalidInput
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import KES, Money
from cryptopay.core.payments import StoreSettings
from cryptopay.core.payments.speed import SpeedTier, set_speed_policy
from cryptopay.core.rails import Finality, rail_for
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from pytest_bdd import given, parsers, then, when

DAILY = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


def _apply(world) -> None:
    stack = world["stack"]
    set_speed_policy(stack.uow, "m1", world["tiers"], actor="merchant:m1", now=stack.clock.now())


@given("a merchant takes USDT on Ethereum")
def merchant(world):
    world["stack"].add_merchant("m1", settlement=DAILY, rails=("usdt-ethereum",), confirmations=12)


@given(parsers.parse("small invoices up to KES {bound} wait {blocks:d} block"))
def small_tier(world, bound, blocks):
    world["tiers"].append(SpeedTier("usdt-ethereum", bound.replace(",", ""), confirmations=blocks))
    _apply(world)


@given("larger invoices wait until Ethereum marks their block finalized")
def large_tier(world):
    world["tiers"].append(SpeedTier("usdt-ethereum", None, finality=Finality.FINALIZED))
    _apply(world)


@when(parsers.parse("a customer pays a KES {price} invoice"))
def pay(world, price):
    stack = world["stack"]
    invoice = stack.invoicing.create_invoice("m1", Money.of(price.replace(",", ""), KES))
    world["paid"] = stack.pay(invoice.id)
    world["invoice"] = invoice
    stack.sync()


@when(parsers.parse("{count:d} more blocks are mined"))
def mine(world, count):
    chain = world["stack"].chains["ethereum"]
    for _ in range(count):
        chain.mine()
    world["stack"].sync()


@when("Ethereum marks the payment's block finalized")
def finalize(world):
    world["stack"].chains["ethereum"].finals[Finality.FINALIZED] = world["paid"].block_number
    world["stack"].sync()


@when("the merchant asks bitcoin payments to wait for finality")
def ask_bitcoin_finality(world):
    try:
        StoreSettings(
            merchant_id="m1",
            rails=[rail_for("bitcoin", "BTC")],
            speed=[SpeedTier("btc-bitcoin", None, finality=Finality.FINALIZED)],
        )
    except InvalidInput as refused:
        world["refused"] = refused


def _state(world) -> InvoiceState:
    return world["stack"].invoice(world["invoice"].id).state


@then("the invoice is settled as soon as the payment's block is seen")
def settled_at_once(world):
    assert _state(world) is InvoiceState.SETTLED
    option = world["stack"].invoice(world["invoice"].id).options[0]
    assert (option.rail.confirmations, option.rail.finality) == (1, None)


@then("the invoice shows the payment as received but not yet settled")
def processing(world):
    assert _state(world) is InvoiceState.PROCESSING
    assert world["stack"].chains["ethereum"].confirmations(world["paid"]) == 51  # deep, but not final


@then("the invoice is settled")
def settled(world):
    assert _state(world) is InvoiceState.SETTLED


@then("the setting is refused because bitcoin only offers confirmations")
def refused(world):
    assert "bitcoin has no 'finalized' signal" in world["refused"].message
