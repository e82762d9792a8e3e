"""Steps for wallet_cash_out.feature over the in-memory wallet stack and its fake M-Pesa (test_wallet_cash_out.py)."""

from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.testing.mobile_money import Scenario
from pytest_bdd import given, parsers, then, when

from tests.support.wallet_stack import WalletStack


def _stack(context: Any) -> WalletStack:
    stack: WalletStack = context["stack"]
    return stack


def _pay_out(stack: WalletStack) -> None:
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()


@given(
    parsers.re(
        r"(?P<name>\w+) has a verified wallet with the phone number (?P<phone>[\d ]+) and (?P<usdt>\d+) USDT in it"
    )
)
def verified_wallet(context, cash_out_stack, name, phone, usdt):
    context["stack"] = cash_out_stack
    person = context.setdefault("people", {})[name] = cash_out_stack.sign_up(phone, tier=1)
    context["phone"] = person.phone
    cash_out_stack.fund(person, usdt, "USDT")


@given(parsers.re(r"M-Pesa (?P<can>cannot|can) pay \w+'s number( again)?"))
def mpesa_can(context, can):
    scenario = Scenario.INSUFFICIENT_FUNDS if can == "cannot" else Scenario.SUCCESS
    _stack(context).mpesa.set_scenario(context["phone"], scenario)


@when(parsers.re(r"(?P<name>\w+) sells (?P<usdt>\d+) USDT"))
def sells(context, name, usdt):
    stack = _stack(context)
    context["sale"] = stack.sells.start(context["people"][name].id, Money.of(usdt, USDT))
    _pay_out(stack)


@then(parsers.re(r"the sale has failed and (?P<name>\w+) has KES (?P<value>[\d,.]+) in her wallet"))
def sale_failed(context, name, value):
    stack = _stack(context)
    assert stack.payouts.get_payout(context["sale"].payout.id).state is PayoutState.FAILED
    assert stack.balance(context["people"][name], "KES") == Money.of(context.amount(value), KES)


@when(parsers.re(r"(?P<name>\w+) cashes out KES (?P<value>[\d,.]+)$"))
def cashes_out(context, name, value):
    stack = _stack(context)
    context["cash_out"] = stack.sells.cash_out(context["people"][name].id, Money.of(context.amount(value), KES))
    _pay_out(stack)


@when(parsers.re(r"(?P<name>\w+) tries to cash out KES (?P<value>[\d,.]+)$"))
def tries_to_cash_out(context, name, value):
    try:
        _stack(context).sells.cash_out(context["people"][name].id, Money.of(context.amount(value), KES))
    except InvalidInput as error:
        context["refusal"] = error


@then(parsers.re(r"M-Pesa pays \w+'s number KES (?P<value>[\d,.]+) less its charge"))
def paid(context, value):
    stack, out = _stack(context), context["cash_out"]
    assert stack.sells.get(out.payout.merchant_id, out.id).state == "completed"
    [tx] = [t for t in stack.mpesa.transactions() if t.product == "b2c" and t.remarks == f"Sale {out.id}"]
    assert tx.amount == out.payout.amount and out.payout.amount + out.payout.charge == Money.of(
        context.amount(value), KES
    )
    assert out.payout.charge.is_positive()


@then("she is told to cash out whole shillings")
def told_whole(context):
    assert "whole number of shillings" in context["refusal"].message


@then(parsers.re(r"(?P<name>\w+) has KES (?P<value>[\d,.]+) in her wallet$"))
def kes_balance(context, name, value):
    assert _stack(context).balance(context["people"][name], "KES") == Money.of(context.amount(value), KES)
