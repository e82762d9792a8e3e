"""A merchant's payout charge passes M-Pesa's B2C tariff on (outside review R13): in memory, SQLite and PostgreSQL,
set by an admin (audited), charged band by band on top of each part, shown on the plan and the settlement, booked as
payout fee revenue when paid, the trial balance zero."""

from __future__ import annotations

import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import flows
from cryptopay.core.errors import NotFound
from cryptopay.core.fees import FeeProduct
from cryptopay.core.mobile_money.limits import B2C_TARIFF
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.charges import PayoutCharging, charging_of, set_payout_charges
from cryptopay.core.payouts import PayoutState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.contract.test_payments_repository_contract import SqlPaymentsStack

INSTANT = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
CREDITED = Money.of("12805.65", KES)  # 99 USDT (100 less the 1 % fee) at the stack's bid


@pytest.fixture
def stack(engine):
    return PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))


def _charging(stack: PaymentsStack, charging: PayoutCharging) -> None:
    set_payout_charges(stack.uow, "m1", charging, actor="user:admin-1", now=stack.clock.now())


def _paid_100_usdt(stack: PaymentsStack) -> None:
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)


def test_the_b2c_tariff_is_passed_on_band_by_band_and_booked_as_payout_fee_revenue(stack):
    """KES 12,805.65 to pay: 12,794 sent and 11 charged (the 5,001-20,000 band), on the plan, the settlement and the
    payout; once paid the merchant keeps 0.65, the float paid 12,794 and M-Pesa's 11, payout fee revenue is 11 and
    the M-Pesa charges expense 11, books balance."""
    stack.add_merchant("m1", settlement=INSTANT)
    _charging(stack, PayoutCharging.MPESA_B2C)
    _paid_100_usdt(stack)
    [plan] = [r.plan for r in stack.settling.run_settlements(dry_run=True)]
    assert plan is not None and [(str(p.amount), str(p.fee)) for p in plan.parts] == [("12794.00 KES", "11.00 KES")]
    [run] = stack.settling.run_settlements()
    assert run.settlement is not None and run.settlement.charges == Money.of(11, KES)
    [payout] = run.payouts
    assert (payout.amount, payout.charge) == (Money.of(12794, KES), B2C_TARIFF.charge(Money.of(12794, KES)))
    stack.payouts.submit_payouts()
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED
    assert stack.balance(flows.PAYOUT_FEE) == Money.of(11, KES)
    # the float also pays M-Pesa's own charge for the payment (B2C's band: 11), the platform's expense: the merchant's
    # charge passed on covers it exactly
    assert stack.balance(flows.FLOAT) == -Money.of(12794 + 11, KES)
    assert stack.balance(flows.MPESA_CHARGES) == Money.of(11, KES)
    assert stack.ledger.balance(flows.merchant_liability("m1", KES)).posted == Money.of("0.65", KES)
    with stack.uow() as uow:
        stored = uow.settlements.get(payout.settlement_id)
    assert stored is not None and stored.charges == Money.of(11, KES)
    assert stack.books_balanced()


def test_b2c_s_tariff_is_not_passed_on_to_a_till_settlement_and_m_pesa_s_b2b_charge_is_not_booked(stack):
    """mpesa_b2c on a till: B2C's bands are not B2B's, and M-Pesa's B2B tariff is not in our data (B2B_TARIFF), so
    the part carries no charge (it was charged 11 before) and no M-Pesa charge is booked: the float pays the amount,
    the merchant keeps the 0.65 below a shilling."""
    till = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_TILL, "123456")
    stack.add_merchant("m1", settlement=till)
    _charging(stack, PayoutCharging.MPESA_B2C)
    _paid_100_usdt(stack)
    [run] = stack.settling.run_settlements()
    [payout] = run.payouts
    assert (payout.amount, payout.charge, payout.mpesa_charge) == (
        Money.of(12805, KES),
        Money.zero(KES),
        Money.zero(KES),
    )
    stack.payouts.submit_payouts()
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED
    assert stack.balance(flows.FLOAT) == -Money.of(12805, KES)
    assert stack.balance(flows.PAYOUT_FEE) == Money.zero(KES)
    with pytest.raises(NotFound):  # never opened: nothing was charged
        stack.ledger.balance(flows.MPESA_CHARGES)
    assert stack.books_balanced()


def test_setting_the_charge_is_a_new_version_audited_and_none_charges_nothing(stack):
    """mpesa_b2c then none: two versions stored and read back, the one in force charges nothing, each change
    audited with what it replaced; a payout then carries no charge and books no fee."""
    stack.add_merchant("m1", settlement=INSTANT)
    _charging(stack, PayoutCharging.MPESA_B2C)
    stack.clock.advance(seconds=1)
    _charging(stack, PayoutCharging.NONE)
    with stack.uow() as uow:
        store = uow.stores.get("m1")
        records = [r for r in uow.audit.about(["merchant:m1"]) if r.action == "store.payout_charges"]
    assert store is not None
    versions = [s.version for s in store.fees if s.product is FeeProduct.MPESA_PAYOUT]
    assert versions == [1, 2] and charging_of(store.payout_charges(stack.clock.now())) is PayoutCharging.NONE
    changes = sorted((dict(r.details)["before"], dict(r.details)["charging"], r.actor) for r in records)
    assert changes == [("mpesa_b2c", "none", "user:admin-1"), ("none", "mpesa_b2c", "user:admin-1")]
    _paid_100_usdt(stack)
    [run] = stack.settling.run_settlements()
    assert [str(p.charge) for p in run.payouts] == ["0.00 KES"] and run.payouts[0].amount == Money.of(12805, KES)
    assert stack.balance(flows.PAYOUT_FEE) == Money.zero(KES)


def test_an_unknown_store_is_refused_and_changes_nothing(stack):
    """A merchant with no store is NotFound; nothing is audited."""
    stack.add_merchant("m1", settlement=INSTANT)
    with pytest.raises(NotFound):
        set_payout_charges(stack.uow, "nobody", PayoutCharging.MPESA_B2C, actor="user:admin-1", now=stack.clock.now())
    with stack.uow() as uow:
        store = uow.stores.get("m1")
        records = [r for r in uow.audit.about(["merchant:m1"]) if r.action == "store.payout_charges"]
    assert store is not None and store.payout_charges(stack.clock.now()) is None and records == []
