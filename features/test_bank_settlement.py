"""Steps for bank_settlement.feature: bank accounts paid by M-Pesa B2B or by an operator's bank transfer."""

from datetime import UTC, datetime

import pytest
from cryptopay.core import flows
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.settlement.banks import bank_catalogue
from cryptopay.core.testing.payments_stack import PaymentsStack
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("bank_settlement.feature")

AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi


def _kes(context, text: str) -> Money:
    return Money.of(context.amount(text), KES)


@pytest.fixture(name="stack")
def _fake_stack():  # a private name: the real-parts module's ``import *`` must not take it
    """The payment use cases on the in-memory fakes (test_bank_settlement_real.py runs them on real parts)."""
    return PaymentsStack()


@given("USDT sells at KES 130 less a 0.5% margin")
def market(context, stack):
    context["stack"] = stack


@given(parsers.parse("a shop settled daily to the {bank} account {account}"))
def bank_shop(context, bank, account):
    [code] = [b.code for b in bank_catalogue().banks.values() if b.name == bank]
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.BANK, f"{code}:{account}")
    context["stack"].add_merchant("m1", settlement=profile)


@given(parsers.parse("the shop was paid {usdt} USDT"))
def shop_paid(context, usdt):
    stack = context["stack"]
    invoice = stack.invoicing.create_invoice("m1", Money.of(context.amount(usdt), USDT))
    stack.pay(invoice.id)
    stack.confirm(3)


@when("the day's settlement runs")
def settle(context):
    stack = context["stack"]
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    [context["payout"]] = run.payouts
    context["sent"] = stack.payouts.submit_payouts()


@then(parsers.parse("KES {amount} is sent by M-Pesa Pay Bill to paybill {paybill} with account {account}"))
def sent_by_paybill(context, amount, paybill, account):
    [tx] = context["stack"].mpesa.transactions()
    assert (tx.product, tx.counterparty, tx.account_reference) == ("b2b", paybill, account)
    assert tx.amount == _kes(context, amount)


@when("M-Pesa reports the payment made")
def mpesa_reports(context):
    context["stack"].deliver_callbacks()


@when("M-Pesa's answer never arrives")
def answer_lost(context):
    context["stack"].mpesa.outbox.clear()


@when(parsers.parse("{minutes:d} minutes pass and the payouts are checked"))
def check_later(context, minutes):
    stack = context["stack"]
    stack.tick(minutes=minutes)
    stack.payouts.follow_up_payouts()
    stack.deliver_callbacks()


def _payout(context):
    return context["stack"].payouts.get_payout(context["payout"].id)


@then("the payout is completed with M-Pesa's receipt")
def completed_by_mpesa(context):
    payout = _payout(context)
    [tx] = context["stack"].mpesa.transactions()
    assert payout.state is PayoutState.COMPLETED and payout.receipt == tx.receipt


@then("M-Pesa was asked to pay once only")
def paid_once(context):
    assert len(context["stack"].mpesa.transactions()) == 1


@then("nothing is sent to M-Pesa")
def nothing_sent(context):
    assert context["sent"] == [] and context["stack"].mpesa.transactions() == []


@then(parsers.parse("the bank file lists KES {amount} to {bank} account {account}"))
def bank_file_lists(context, amount, bank, account):
    [row] = context["stack"].payouts.bank_file(actor="ops:amina")
    code, _, number = row.destination.partition(":")
    assert bank_catalogue().bank(code).name == bank and number == account and row.amount == _kes(context, amount)


@when(parsers.parse("an officer proposes the transfer's bank reference {reference}"))
def propose(context, reference):
    context["stack"].payouts.propose_bank_confirmation(
        context["payout"].id, reference=reference, note="", by="user:amina"
    )


@then("the payout still awaits its transfer")
def still_awaiting(context):
    assert _payout(context).state is PayoutState.SUBMITTED


@when(parsers.parse("a second officer approves the bank reference {reference}"))
def approve(context, reference):
    context["stack"].payouts.approve_bank_confirmation(context["payout"].id, by="user:baraka", reference=reference)


@then(parsers.parse("the payout is completed with the receipt {reference}"))
def completed_by_operator(context, reference):
    payout = _payout(context)
    assert payout.state is PayoutState.COMPLETED and payout.receipt == reference


@then("the transfer is paid from our bank account, not the M-Pesa float")
def paid_from_bank(context):
    stack = context["stack"]
    assert stack.balance(flows.BANK) == -context["payout"].amount and stack.balance(flows.FLOAT).is_zero()


@then("the books balance")
def books_balance(context):
    assert context["stack"].books_balanced()
