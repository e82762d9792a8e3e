"""The merchant fee is the merchant's, whatever asset it is paid in (outside review R7): in memory, SQLite and
PostgreSQL, a payment in an asset whose rail was added after the fee was set pays that fee, never 0 %."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.fees import FeeProduct
from cryptopay.core.money import KES, USDC, USDT, Money, Rounding
from cryptopay.core.payments.model import PaymentCredit
from cryptopay.core.rails import rail_for
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.contract.test_payments_repository_contract import SqlPaymentsStack

WEEKLY = SettlementProfile(SettlementSchedule.WEEKLY, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture
def stack(engine):
    """The payments stack on Ethereum (USDT and USDC), on this backend's storage, USDC priced like USDT."""
    found = (
        PaymentsStack(networks=("ethereum",))
        if engine is None
        else SqlPaymentsStack(SqlStorage(engine), networks=("ethereum",))
    )
    found.rates.set("USDC/KES", "130")
    found.rates.set("USDC/USD", "1")  # the peg the pricer checks
    return found


def _paid_usdc(stack: PaymentsStack, merchant_id: str) -> PaymentCredit:
    """The credit of a KES 1,300 invoice paid in USDC on Ethereum."""
    invoice = stack.invoicing.create_invoice(merchant_id, Money.of("1300", KES), rails=["usdc-ethereum"])
    stack.pay(invoice.id)
    stack.confirm(3)
    with stack.uow() as uow:
        (credit,) = uow.payment_credits.for_invoice(invoice.id)
    assert credit.received.asset == USDC and credit.received.is_positive()
    return credit


def _percent_of(credit: PaymentCredit, percent: str) -> Money:
    return credit.received.times(Decimal(percent) / 100, Rounding.UP)


def test_a_rail_added_after_the_fee_gets_a_version_at_the_merchants_fee(stack):
    """An admin's 1.5 % on a USDT store; the merchant adds USDC (``with_merchant_fee``, what the store PUT does):
    the USDC version is 1.5 %, stored and read back, and a USDC payment pays 1.5 %."""
    stack.add_merchant("m1", settlement=WEEKLY, rails=("usdt-ethereum",), fee_percent="1.5")
    with stack.uow() as uow:
        store = uow.stores.get("m1")
        assert store is not None
        widened = attrs.evolve(store, rails=(*store.rails, rail_for("ethereum", "USDC", confirmations=3)))
        uow.stores.put(widened.with_merchant_fee({USDT, USDC}, stack.clock.now()))
    with stack.uow() as uow:
        stored = uow.stores.get("m1")
    assert stored is not None
    fees = sorted((s.asset.code, s.version, s.percent) for s in stored.fees if s.product is FeeProduct.MERCHANT)
    assert fees == [("USDC", 1, Decimal("1.5")), ("USDT", 1, Decimal("1.5"))]
    credit = _paid_usdc(stack, "m1")
    assert credit.fee.is_positive() and credit.fee == _percent_of(credit, "1.5")
    assert stack.balance("revenue:merchant_fee:USDC") == credit.fee


def test_a_stored_store_with_an_unpriced_asset_fails_closed_at_the_merchants_fee(stack):
    """A store saved before the fix (USDC rail, a fee on USDT only): its USDC payment pays the merchant's current fee
    (the latest version in force, 2 % here), not the 0 % ``none`` schedule; the ledger names the version it copied."""
    stack.add_merchant("m2", settlement=WEEKLY, rails=("usdt-ethereum", "usdc-ethereum"), fee_percent="1")
    with stack.uow() as uow:
        store = uow.stores.get("m2")
        assert store is not None
        usdt_only = tuple(s for s in store.fees if s.asset == USDT)
        raised = attrs.evolve(usdt_only[0], version=2, effective_from=stack.clock.now() - timedelta(hours=1))
        raised = attrs.evolve(raised, percent=Decimal(2))
        uow.stores.put(attrs.evolve(store, fees=(*usdt_only, raised)))
    credit = _paid_usdc(stack, "m2")
    assert credit.fee.is_positive() and credit.fee == _percent_of(credit, "2")
    entry = stack.ledger.entry(credit.entry_id)
    assert entry is not None and ("fee_schedule", "merchant:USDC:from-USDT:v2") in entry.metadata


def test_a_store_without_any_merchant_fee_still_pays_none(stack):
    """No merchant fee at all (an admin never set one): 0 %, as before."""
    stack.add_merchant("m3", settlement=WEEKLY, rails=("usdc-ethereum",), fee_percent="1")
    with stack.uow() as uow:
        store = uow.stores.get("m3")
        assert store is not None
        uow.stores.put(attrs.evolve(store, fees=()))
    assert _paid_usdc(stack, "m3").fee == Money.zero(USDC)
