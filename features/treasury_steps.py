"""Steps for treasury.feature over a ``TreasuryStack`` (the treasury wired around a payments stack).

The test modules give a ``make_treasury`` fixture building that stack over fakes or over real parts; pytest-bdd
registers the steps as fixtures of the module that imports them (``from features.treasury_steps import *``).
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptopay.core import flows
from cryptopay.core.money import KES, TRX, USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.treasury import TreasuryStack
from cryptopay.core.treasury import Fill, SweepState
from pytest_bdd import given, parsers, then, when

from features.conftest import amount


@pytest.fixture
def world() -> dict[str, Any]:
    """What a scenario built: the treasury stack, the invoices, the payout."""
    return {}


def _stack(world: dict[str, Any], make_treasury: Any, **options: Any) -> TreasuryStack:
    if "treasury" not in world:
        world["treasury"] = make_treasury(**options)
    found: TreasuryStack = world["treasury"]
    return found


@given(parsers.parse("the M-Pesa float holds KES {held} and KES {reserve} of it is kept in reserve"))
def float_holds(world, make_treasury, held, reserve):
    stack = _stack(world, make_treasury, baseline=str(amount(held)), reserve=str(amount(reserve)))
    stack.payments.mpesa.float_balance = Money.of(amount(held), KES)


@given(parsers.parse("deposit addresses are swept from {threshold:d} USDT"))
def swept_from(world, make_treasury, threshold):
    _stack(world, make_treasury, threshold=str(threshold))


@given(parsers.parse("a merchant paid out {schedule} to the M-Pesa phone {phone}"))
def merchant(world, make_treasury, schedule, phone):
    stack = _stack(world, make_treasury)
    when = {"instantly": SettlementSchedule.INSTANT, "weekly": SettlementSchedule.WEEKLY}[schedule]
    profile = SettlementProfile(when, SettlementMethod.MPESA_B2C, phone.replace(" ", ""))
    stack.payments.add_merchant("m1", settlement=profile, fee_percent="0")


def _pay(stack: TreasuryStack, usdt: str) -> str:
    p = stack.payments
    invoice = p.invoicing.create_invoice("m1", Money.of(usdt, USDT))
    p.pay(invoice.id)
    p.confirm()
    return invoice.options[0].address


@when(parsers.parse("a customer pays {usdt} USDT to the merchant and the merchant is settled"))
def pays_and_settled(world, usdt):
    stack: TreasuryStack = world["treasury"]
    _pay(stack, usdt)
    stack.payments.settling.run_settlements()
    world["float_before"] = stack.payments.mpesa.float_balance
    stack.payments.payouts.submit_payouts()
    stack.payments.deliver_callbacks()
    with stack.payments.uow() as uow:
        (payout,) = uow.payouts.by_state(PayoutState.PLANNED, limit=10)
    world["payout"] = payout.id


@given(parsers.parse("customers have paid {big} USDT to one invoice and {small} USDT to another"))
def customers_paid(world, big, small):
    stack: TreasuryStack = world["treasury"]
    world["big"], world["small"] = _pay(stack, big), _pay(stack, small)


@given(parsers.parse("a customer paid {usdt} USDT that the merchant was settled for at KES {rate} each"))
def settled_for(world, make_treasury, usdt, rate):
    stack = _stack(world, make_treasury)
    _pay(stack, usdt)
    stack.payments.settling.run_settlements()
    assert stack.rebalancing.cost_basis("USDT")[1] == Money.of(amount(usdt) * amount(rate), KES)


@then("no money leaves the M-Pesa float")
def nothing_sent(world):
    stack: TreasuryStack = world["treasury"]
    assert stack.payments.mpesa.float_balance == world["float_before"]


@then("the payout waits because the float cannot cover it")
def payout_waits(world):
    payout = world["treasury"].payments.payouts.get_payout(world["payout"])
    assert payout.state is PayoutState.PLANNED and payout.held and "cannot cover" in payout.held


@then("the treasury is alerted that the payout is held")
def alerted(world):
    stack: TreasuryStack = world["treasury"]
    (alert,) = stack.notifier.sent_to(TreasuryStack.ALERT_TO)
    assert world["payout"] in alert.subject


@when(parsers.parse('KES {kes} is moved into the float and recorded as top-up "{reference}"'))
def top_up(world, kes, reference):
    stack: TreasuryStack = world["treasury"]
    stack.payments.mpesa.float_balance += Money.of(amount(kes), KES)
    done = stack.rebalancing.record_topup(reference=reference, amount=Money.of(amount(kes), KES), actor="ops:jane")
    assert [p.id for p in done.released] == [world["payout"]]


@then("the payout is released, sent and paid by M-Pesa")
def paid(world):
    stack: TreasuryStack = world["treasury"]
    # sent a second after the top-up was booked: a B2C result's float reading is kept only if the float did not
    # move in the books since the payout was sent, and at one instant the top-up would count as "since"
    stack.payments.clock.advance(seconds=1)
    stack.payments.payouts.submit_payouts()
    stack.payments.deliver_callbacks()
    payout = stack.payments.payouts.get_payout(world["payout"])
    assert payout.state is PayoutState.COMPLETED and payout.held is None
    assert stack.guard.position().source.startswith("a B2C result")  # M-Pesa's result reported the float


@when("the sweeps run until they settle")
def sweeps_run(world):
    stack: TreasuryStack = world["treasury"]
    for _ in range(5):
        stack.sweeps.run()


@then(parsers.parse("the hot wallet holds {big} USDT and the smaller deposit still holds {small} USDT"))
def hot_holds(world, big, small):
    stack: TreasuryStack = world["treasury"]
    balances = stack.balances["tron"]
    assert balances.balance("tron-hot", USDT) == Money.of(amount(big), USDT)
    assert balances.balance(world["big"], USDT).is_zero()
    assert balances.balance(world["small"], USDT) == Money.of(amount(small), USDT)


@then("the network fees of the sweep are booked as an expense")
def fees_booked(world):
    stack: TreasuryStack = world["treasury"]
    (sweep,) = stack.store.sweeps(state=SweepState.CONFIRMED)
    assert sweep.fee is not None and sweep.fee.is_positive()
    assert stack.payments.ledger.balance(flows.network_fees("tron", TRX)).posted == sweep.fee


@then("the books and the chain agree on the USDT we hold")
def books_and_chain(world):
    (holding,) = world["treasury"].treasury.status().inventory
    assert holding.difference == Money.zero(USDT) and holding.books == Money.of(150, USDT)


@then("reconciliation finds nothing wrong in the treasury")
def treasury_reconciles(world):
    report = world["treasury"].reconcile()
    treasury = [r for r in report.results if r.check.area in ("treasury", "chains") and not r.skipped]
    assert {r.check.name for r in treasury} >= {"sweep-fees", "sweeps-settled", "custody-on-chain"}
    assert all(r.ok for r in treasury), [(r.check.name, r.differences) for r in treasury]


@when(parsers.parse("the treasury records selling {usdt} USDT at KES {price} on an OTC desk for a fee of KES {fee}"))
def sells(world, usdt, price, fee):
    stack: TreasuryStack = world["treasury"]
    world["conversion"] = stack.rebalancing.record_conversion(
        reference="otc-0001",
        network="tron",
        fills=[Fill(Money.of(amount(usdt), USDT), amount(price))],
        fee=Money.of(amount(fee), KES),
        venue="OTC desk",
        actor="ops:jane",
    )


@then(parsers.parse("a foreign-exchange gain of KES {gain} is booked"))
def gain_booked(world, gain):
    stack: TreasuryStack = world["treasury"]
    assert world["conversion"].gain == Money.of(amount(gain), KES)
    assert stack.payments.ledger.balance(flows.FX_GAIN).posted == Money.of(amount(gain), KES)


@then(parsers.parse("KES {kes} lands in the bank"))
def in_bank(world, kes):
    assert world["treasury"].payments.ledger.balance(flows.BANK).posted == Money.of(amount(kes), KES)


@then("the USDT sold has left our holdings on tron")
def left_custody(world):
    assert world["treasury"].payments.ledger.balance(flows.custody("tron", USDT)).posted.is_zero()


@then("the books balance")
def books_balance(world):
    assert world["treasury"].payments.books_balanced()
