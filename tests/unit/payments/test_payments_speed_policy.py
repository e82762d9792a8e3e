"""Speed policy: per rail and amount tier, how many confirmations (or which finality signal) a payment waits for."""

from decimal import Decimal

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import KES, Money
from cryptopay.core.payments import StoreSettings
from cryptopay.core.payments.speed import SpeedTier
from cryptopay.core.rails import Finality, rail_for
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


def _stack(network: str, tiers: tuple[SpeedTier, ...]) -> PaymentsStack:
    stack = PaymentsStack(networks=(network,))
    store = stack.add_merchant("m1", settlement=PROFILE, rails=(f"usdt-{network}",), confirmations=12)
    with stack.uow() as uow:
        uow.stores.put(StoreSettings(**{**_fields(store), "speed": tiers}))
    return stack


def _fields(store: StoreSettings) -> dict:
    import attrs

    return {f.name: getattr(store, f.name) for f in attrs.fields(StoreSettings)}


TIERS = (
    SpeedTier("usdt-ethereum", Decimal("10000"), confirmations=1),
    SpeedTier("usdt-ethereum", Decimal("100000"), confirmations=3),
    SpeedTier("usdt-ethereum", None, finality=Finality.FINALIZED),
)


@pytest.mark.parametrize(
    ("kes", "confirmations", "finality"),
    [("5000", 1, None), ("10000", 1, None), ("50000", 3, None), ("500000", 12, Finality.FINALIZED)],
)
def test_an_invoice_takes_the_tier_its_worth_falls_in(kes: str, confirmations: int, finality) -> None:
    """Each invoice's rail carries the first tier whose bound covers its worth in shillings (KES 10,000 is tier 1)."""
    stack = _stack("ethereum", TIERS)
    rail = stack.invoicing.create_invoice("m1", Money.of(kes, KES)).options[0].rail
    assert (rail.finality, rail.confirmations if finality is None else confirmations) == (finality, confirmations)


def test_a_small_payment_is_confirmed_at_one_block_and_shown_as_seen_before() -> None:
    """KES 5,000 on a 1-confirmation tier: processing when seen, settled at its first confirmation."""
    stack = _stack("ethereum", TIERS)
    invoice = stack.invoicing.create_invoice("m1", Money.of("5000", KES))
    chain = stack.chains["ethereum"]
    paid = chain.pay(invoice.options[0].address, invoice.options[0].due)
    stack.sync()
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED  # its block is its first confirmation
    assert stack.invoice(invoice.id).payments[0].key == paid.key


def test_a_finalized_tier_waits_for_the_network_s_finalized_block_not_for_depth() -> None:
    """A large invoice waits for the finalized tag: 50 blocks deep is still processing until its block is final."""
    stack = _stack("ethereum", TIERS)
    invoice = stack.invoicing.create_invoice("m1", Money.of("500000", KES))
    chain = stack.chains["ethereum"]
    paid = chain.pay(invoice.options[0].address, invoice.options[0].due)
    for _ in range(50):
        chain.mine()
    stack.sync()
    assert stack.invoice(invoice.id).state is InvoiceState.PROCESSING
    chain.finals[Finality.SAFE] = chain.head()  # safe is not enough for a finalized tier
    stack.sync()
    assert stack.invoice(invoice.id).state is InvoiceState.PROCESSING
    assert paid.block_number is not None
    chain.finals[Finality.FINALIZED] = paid.block_number
    stack.sync()
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED
    assert stack.invoice(invoice.id).payments[0].finality is Finality.FINALIZED


def test_a_policy_change_does_not_move_an_open_invoice() -> None:
    """The requirement is fixed when the invoice is made: a stricter policy later does not delay it."""
    stack = _stack("ethereum", TIERS)
    invoice = stack.invoicing.create_invoice("m1", Money.of("5000", KES))
    with stack.uow() as uow:
        store = uow.stores.get("m1")
        assert store is not None
        uow.stores.put(StoreSettings(**{**_fields(store), "speed": ()}))
    stack.chains["ethereum"].pay(invoice.options[0].address, invoice.options[0].due)
    stack.sync()
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED


@pytest.mark.parametrize(
    ("tier", "says"),
    [
        (SpeedTier("usdt-bitcoin", None, confirmations=1), "which is no rail"),
        (SpeedTier("usdt-ethereum", None), "either confirmations or a finality"),
        (SpeedTier("usdt-ethereum", None, confirmations=2, finality=Finality.SAFE), "either confirmations"),
        (SpeedTier("usdt-ethereum", None, confirmations=0), "1 to 1000"),
        (SpeedTier("usdt-ethereum", Decimal("-5"), confirmations=1), "positive amount"),
        (SpeedTier("usdt-ethereum", Decimal("0.001"), confirmations=1), "at most 2 places"),
    ],
)
def test_a_bad_tier_is_refused_with_its_reason(tier: SpeedTier, says: str) -> None:
    """Every malformed tier is an InvalidInput on the ``speed_policy`` field naming what is wrong."""
    with pytest.raises(InvalidInput) as refused:
        StoreSettings(merchant_id="m1", rails=[rail_for("ethereum", "USDT")], speed=[tier])
    assert says in refused.value.message and refused.value.details["field"] == "speed_policy"


def test_networks_offer_only_their_own_finality_signals() -> None:
    """Bitcoin has no finality signal and Tron no ``safe``: such tiers are refused; EVM offers both."""
    for key, finality in (("btc-bitcoin", Finality.FINALIZED), ("usdt-tron", Finality.SAFE)):
        asset, network = key.split("-")
        with pytest.raises(InvalidInput, match="has no"):
            StoreSettings(
                merchant_id="m1", rails=[rail_for(network, asset)], speed=[SpeedTier(key, None, finality=finality)]
            )
    tron = SpeedTier("usdt-tron", None, finality=Finality.FINALIZED)
    assert StoreSettings(merchant_id="m1", rails=[rail_for("tron", "USDT")], speed=[tron]).speed == (tron,)
    with pytest.raises(InvalidInput, match="share the bound"):
        StoreSettings(merchant_id="m1", rails=[rail_for("tron", "USDT")], speed=[tron, tron])
