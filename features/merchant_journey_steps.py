"""Steps for merchant_journey.feature: invoices paid on chain, credited, settled and paid out over M-Pesa.

The steps talk only to a ``stack`` fixture offering what ``cryptopay.core.testing.payments_stack.PaymentsStack``
offers; each test module that binds the feature brings its own ``stack`` (the in-memory deployment, or the real
adapters of ``tests.support.real_payments_stack``) and takes these steps into its namespace with
``from features.merchant_journey_steps import *``: pytest-bdd 9 registers a step as a fixture of the module that
defines it, so a module sees only the steps in its own namespace or in a conftest.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptopay.core import flows
from cryptopay.core.invoices import InvoiceException, InvoiceState
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import AwaitingStatus, Payout, PayoutState
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.reconciliation import Outside, parse_statement, render_statement
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.webhooks import WEBHOOK_EVENTS
from pytest_bdd import given, parsers, then, when

MERCHANT = "m1"
EXCEPTIONS = {
    "nothing unusual": InvoiceException.NONE,
    "paid partially": InvoiceException.PAID_PARTIAL,
    "paid short within the tolerance": InvoiceException.PAID_UNDER_TOLERATED,
    "paid over": InvoiceException.PAID_OVER,
    "paid late": InvoiceException.PAID_LATE,
}
MPESA_SCENARIOS = {
    "refuse the next payment to the merchant's phone for lack of float": Scenario.INSUFFICIENT_FUNDS,
    "lose the result of the next payment to the merchant's phone": Scenario.LOST_CALLBACK,
    "send the result of the next payment to the merchant's phone twice": Scenario.DUPLICATE_CALLBACK,
}


def number(text: str) -> Decimal:
    return Decimal(text.replace(",", "").strip())


@pytest.fixture
def journey() -> dict[str, Any]:
    """What the scenario has made so far: the shop's phone, the invoice, the transfer, the payout."""
    return {}


# --- the shop ---------------------------------------------------------------------------------------------------


@given(
    parsers.parse(
        "a shop taking USDT on Tron with {depth:d} confirmations, a {fee}% fee and {tolerance}% underpayment tolerance"
    )
)
def shop(journey, depth, fee, tolerance):
    journey["shop"] = {"confirmations": depth, "fee_percent": fee, "tolerance_percent": tolerance}


@given(parsers.parse("the shop is paid out instantly to the M-Pesa phone {phone}"))
def paid_out_instantly(stack, journey, phone):
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, phone)
    store = stack.add_merchant(MERCHANT, settlement=profile, rails=["usdt-tron"], **journey["shop"])
    assert store.merchant_id == MERCHANT
    journey["phone"] = "254" + phone.replace(" ", "")[1:]
    journey["phone_before"] = stack.mpesa.balance(journey["phone"])


@given(parsers.parse("USDT sells at KES {mid} less a {margin}% margin"))
def usdt_rate(stack, mid, margin):
    stack.rates.set("USDT/KES", mid)
    assert stack.pricer.policy.margin == number(margin) / 100


@given(parsers.parse("M-Pesa will {behaviour}"))
def mpesa_behaves(stack, journey, behaviour):
    stack.mpesa.set_scenario(journey["phone"], MPESA_SCENARIOS[behaviour])


# --- invoices and payments --------------------------------------------------------------------------------------


@given(parsers.parse("an invoice for {price} USDT"))
def an_invoice(stack, journey, price):
    journey["invoice"] = stack.invoicing.create_invoice(MERCHANT, Money.of(number(price), USDT)).id


@given(parsers.parse("an invoice for {price} USDT paid in full and confirmed"))
def a_paid_invoice(stack, journey, price):
    an_invoice(stack, journey, price)
    stack.pay(journey["invoice"])
    stack.confirm(3)


@when(parsers.parse("the customer sends {value} USDT to the invoice's address"))
def customer_sends(stack, journey, value):
    journey["transfer"] = stack.pay(journey["invoice"], Money.of(number(value), USDT))
    stack.sync()


@when("the chain confirms the payment")
def chain_confirms(stack):
    stack.confirm(3)


@when(parsers.parse("{minutes:d} minutes pass"))
def minutes_pass(stack, minutes):
    stack.tick(minutes=minutes)


@when("the chain reorganises the payment's block away")
def reorganised(stack, journey):
    transfer: ObservedTransfer = journey["transfer"]
    chain = stack.chains["tron"]
    chain.reorg(chain.head() - (transfer.block_number or 0) + 1)
    chain.mine()
    stack.sync()


@when("the payment is mined again and confirmed")
def mined_again(stack, journey):
    stack.chains["tron"].include(journey["transfer"])
    stack.confirm(3)


@then(parsers.parse("the invoice is {state}, noted as {exception}"))
@then(parsers.parse("the invoice is {state} with {exception}"))
def invoice_is(stack, journey, state, exception):
    invoice = stack.invoice(journey["invoice"])
    assert (invoice.state, invoice.exception) == (InvoiceState(state), EXCEPTIONS[exception])


@then(parsers.parse("the invoice is {state}"))
def invoice_state(stack, journey, state):
    assert stack.invoice(journey["invoice"]).state is InvoiceState(state)


@then(parsers.parse("the merchant's balance is {balance} USDT and the platform's fee is {fee} USDT"))
def merchant_balance(stack, balance, fee):
    assert stack.balance(flows.merchant_liability(MERCHANT, USDT)) == Money.of(number(balance), USDT)
    assert stack.balance("revenue:merchant_fee:USDT") == Money.of(number(fee), USDT)


@then(parsers.parse("the merchant has been sent the webhooks {topics}"))
def webhooks_sent(stack, topics):
    sent = [m.topic for m in stack.outbox() if m.topic in WEBHOOK_EVENTS and m.payload.get("merchant_id") == MERCHANT]
    assert sent == [t.strip() for t in topics.split(",")]


@then(parsers.parse("the merchant has been sent a {topic} webhook"))
@then(parsers.parse("the merchant has been sent {count:d} {topic} webhook"))
def webhook_count(stack, topic, count=1):
    assert len(stack.outbox(topic)) == count


@then("the books balance")
def books_balance(stack):
    assert stack.books_balanced()


# --- settlement and payouts -------------------------------------------------------------------------------------


def latest_payout(stack: PaymentsStack, journey: dict[str, Any]) -> Payout:
    payout: Payout = stack.payouts.get_payout(journey["payout"])
    return payout


@when("the settlement runs and the payout is sent")
def settle_and_send(stack, journey):
    [run] = stack.settling.run_settlements(merchant_id=MERCHANT)
    [payout] = run.payouts
    journey["payout"], journey["settlement"] = payout.id, payout.settlement_id
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()


@when("the float is topped up and an operator retries the payout")
def retry(stack, journey):
    stack.mpesa.set_scenario(journey["phone"], Scenario.SUCCESS)
    with pytest.raises(AwaitingStatus):  # failed by a callback: Transaction Status confirms it first
        stack.payouts.retry_failed_payout(journey["payout"], actor="ops:alice")
    stack.deliver_callbacks()
    journey["payout"] = stack.payouts.retry_failed_payout(journey["payout"], actor="ops:alice").id
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()


@when(parsers.parse("{minutes:d} minutes pass and the payout's status is asked"))
def status_asked(stack, minutes):
    stack.clock.advance(minutes=minutes)
    stack.payouts.query_stale_payouts()
    stack.deliver_callbacks()


@then("the payout has failed")
def payout_failed(stack, journey):
    assert latest_payout(stack, journey).state is PayoutState.FAILED


@then("the payout is still waiting for its result")
def payout_waiting(stack, journey):
    assert latest_payout(stack, journey).state is PayoutState.SUBMITTED


@then(parsers.parse("the payout is completed on attempt {attempt:d}"))
def payout_completed(stack, journey, attempt):
    payout = latest_payout(stack, journey)
    assert (payout.state, payout.attempt) == (PayoutState.COMPLETED, attempt)


@then(parsers.parse("KES {amount} is available to the merchant again"))
def available_again(stack, amount):
    available = stack.ledger.balance(flows.merchant_liability(MERCHANT, KES)).available
    assert available == Money.of(number(amount), KES)


@then(parsers.parse("the merchant's phone has received KES {amount}"))
def phone_received(stack, journey, amount):
    assert stack.mpesa.balance(journey["phone"]) - journey["phone_before"] == Money.of(number(amount), KES)


@then(parsers.parse("the settlement is completed within {hours:d} hours of its cut-off"))
def settlement_in_time(stack, journey, hours):
    with stack.uow() as uow:
        settlement = uow.settlements.get(journey["settlement"])
    assert settlement is not None and settlement.completed_at is not None
    assert settlement.completed_at - settlement.cutoff <= timedelta(hours=hours)


# --- reconciliation ---------------------------------------------------------------------------------------------


@then("our own records reconcile")
def own_records_reconcile(stack):
    report = stack.reconciliation.reconcile()
    assert report.clean, [(r.check.name, r.differences) for r in report.results if r.differences]


@when("the books are reconciled with M-Pesa's statement")
def reconcile_with_statement(stack, journey):
    # the payout Short Code's statement (it holds the payouts), as an operator downloads it
    record = statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode)
    statement = parse_statement(render_statement(record))
    journey["report"] = stack.reconciliation.reconcile(Outside(statement=statement))


@then(parsers.parse("reconciliation reports the payout as paid by M-Pesa though our books say {state}"))
def reported_paid(stack, journey, state):
    (result,) = [r for r in journey["report"].results if r.check.name == "mpesa-statement"]
    subjects = [(d.subject, d.actual) for d in result.differences]
    assert (f"payout {journey['payout']} ({state})", "paid by M-Pesa") in subjects
