"""Steps for wallet_bills.feature, over a ``BillsWorld``: the wallet stack, the bill use case, the payout machinery
and a way to bring M-Pesa's answers back. The test modules give the world: in memory (test_wallet_bills.py) or on
PostgreSQL with Daraja over HTTP to its sandbox (test_wallet_bills_real.py)."""

from collections.abc import Callable
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput, LimitExceeded, NotFound, QuoteRequired, QuoteUsed
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts.service import Payouts
from cryptopay.core.wallets.bills import Bill, Bills
from cryptopay.core.wallets.quotes import QuotePurpose
from pytest_bdd import given, parsers, then, when

from tests.support.wallet_stack import WalletStack

BILLERS = {"KPLC prepaid": "KPLC_PREPAID", "KPLC postpaid": "KPLC_POSTPAID", "DStv": "DSTV", "GOtv": "GOTV"}


@attrs.define
class BillsWorld:
    stack: WalletStack
    bills: Bills
    payouts: Payouts
    answers: Callable[[], Any]  # brings every answer M-Pesa sent back to the payout handler


def _world(context: Any) -> BillsWorld:
    world: BillsWorld = context["bills_world"]
    return world


@given(parsers.re(r"(?P<name>\w+) has a verified wallet with the phone number (?P<phone>[\d ]+)"))
def verified_wallet(context, bills_world, name, phone):
    context["bills_world"] = bills_world
    context.setdefault("people", {})[name] = bills_world.stack.sign_up(phone, tier=1)


@given(
    parsers.re(r"(?P<name>\w+) has a wallet with the phone number (?P<phone>[\d ]+) and KES (?P<value>[\d,]+) in it")
)
def unverified_wallet(context, name, phone, value):
    stack = _world(context).stack
    person = context["people"][name] = stack.sign_up(phone)
    stack.fund(person, str(context.amount(value)), "KES")


@given(parsers.re(r"(?P<name>\w+) has (?P<asset>KES|USDT)? ?(?P<value>[\d,.]+) ?(?P<coin>USDT)? in (his|her) wallet"))
def funded(context, name, asset, value, coin):
    _world(context).stack.fund(context["people"][name], str(context.amount(value)), asset or coin)


def _pay(context: Any, name: str, value: str, biller: str, account: str, **options: Any) -> Bill:
    world = _world(context)
    bill = world.bills.pay(
        context["people"][name].id, BILLERS[biller], account, Money.of(context.amount(value), KES), **options
    )
    context["bill"] = bill
    world.payouts.submit_payouts()
    world.answers()
    return bill


@when(
    parsers.re(
        r"(?P<name>\w+) pays KES (?P<value>[\d,]+) to (?P<biller>.+) for the (meter|account|smartcard) (?P<account>[\d ]+)$"
    )
)
def pays(context, name, value, biller, account):
    _pay(context, name, value, biller, account)


@when(
    parsers.re(
        r"(?P<name>\w+) locks a price and pays KES (?P<value>[\d,]+) to (?P<biller>.+) for the smartcard "
        r"(?P<account>[\d ]+) from her USDT"
    )
)
def pays_from_usdt(context, name, value, biller, account):
    quote = _world(context).stack.buys.quote(context["people"][name].id, QuotePurpose.SELL)
    context["quote"] = quote
    context["usdt_before"] = _world(context).stack.balance(context["people"][name], "USDT")
    _pay(context, name, value, biller, account, pay_with="USDT", quote_id=quote.id)


@when(
    parsers.re(
        r"(?P<name>\w+) tries to pay KES (?P<value>[\d,]+) to (?P<biller>.+) for the (account|smartcard) (?P<account>[\d ]+)"
    )
)
def tries_to_pay(context, name, value, biller, account):
    try:
        _pay(context, name, value, biller, account)
    except (InvalidInput, LimitExceeded) as refused:
        context["refused"] = refused


@when(parsers.re(r"(?P<name>\w+) locks a price$"))
def locks_a_price(context, name):
    context["quote"] = _world(context).stack.buys.quote(context["people"][name].id, QuotePurpose.SELL)


@when(
    parsers.re(
        r"(?P<name>\w+) tries to pay KES (?P<value>[\d,]+) to (?P<biller>.+) for the smartcard (?P<account>[\d ]+) "
        r"from (his|her) USDT at (the same|Amina's) price"
    )
)
def tries_at_a_locked_price(context, name, value, biller, account):
    try:
        _pay(context, name, value, biller, account, pay_with="USDT", quote_id=context["quote"].id)
    except (NotFound, QuoteUsed) as refused:
        context["refused"] = refused


@when(
    parsers.re(
        r"(?P<name>\w+) tries to pay KES (?P<value>[\d,]+) to (?P<biller>.+) for the smartcard (?P<account>[\d ]+) "
        r"from (his|her) USDT without locking a price"
    )
)
def tries_without_a_price(context, name, value, biller, account):
    try:
        _pay(context, name, value, biller, account, pay_with="USDT")
    except QuoteRequired as refused:
        context["refused"] = refused


@then("she is told to lock a price first")
def told_to_lock_a_price(context):
    refused = context["refused"]
    assert isinstance(refused, QuoteRequired) and "POST /v1/wallet/quotes" in refused.message


@then("she is told the price was used already and must lock a new one")
def told_price_used(context):
    refused = context["refused"]
    assert isinstance(refused, QuoteUsed) and "lock a new one" in refused.message


@then(parsers.re(r"(?P<name>\w+) is told there is no such price of his"))
def told_no_such_price(context, name):
    assert isinstance(context["refused"], NotFound) and context["refused"].details["field"] == "quote_id"


@then(parsers.re(r"(?P<name>\w+) has (?P<value>[\d,.]+) USDT less what the first bill sold"))
def usdt_less_the_first_bill(context, name, value):
    left = _world(context).stack.balance(context["people"][name], "USDT")
    assert left == Money.of(context.amount(value), USDT) - context["bill"].paid_with


@then(parsers.re(r"(?P<name>\w+) has (?P<value>[\d,.]+) USDT in (his|her) wallet"))
def has_usdt(context, name, value):
    assert _world(context).stack.balance(context["people"][name], "USDT") == Money.of(context.amount(value), USDT)


def _bill(context: Any) -> Bill:
    bill: Bill = context["bill"]
    return _world(context).bills.get(bill.payout.merchant_id, bill.id)


@then(parsers.parse("M-Pesa pays KES {value} to paybill {paybill} with the reference {reference}"))
def mpesa_pays(context, value, paybill, reference):
    bill = _bill(context)
    assert bill.payout.route == f"BusinessPayBill {paybill} {reference}"
    assert bill.payout.amount == Money.of(context.amount(value), KES)
    assert _world(context).stack.mpesa.business_balance(paybill) == Money.of(context.amount(value), KES)


@then("the bill is paid and shows a 20-digit token")
def paid_with_token(context):
    bill = _bill(context)
    assert bill.state == "completed" and bill.payout.receipt
    assert bill.token is not None and len(bill.token) == 20 and bill.token.isdigit()


@then("the bill is paid")
def paid(context):
    assert _bill(context).state == "completed"


@then("the bill has failed")
def failed(context):
    assert _bill(context).state == "failed"


@then(parsers.re(r"(?P<name>\w+) has KES (?P<value>[\d,]+) in (his|her) wallet"))
def has(context, name, value):
    assert _world(context).stack.balance(context["people"][name], "KES") == Money.of(context.amount(value), KES)


@then(parsers.parse("Amina sold just enough USDT at the locked price and still has KES {value} in her wallet"))
def sold_just_enough(context, value):
    stack, bill, quote = _world(context).stack, _bill(context), context["quote"]
    amina = context["people"]["Amina"]
    assert bill.paid_with == quote.base_needed(bill.payout.amount, at=quote.as_of)
    assert stack.balance(amina, "USDT") == context["usdt_before"] - bill.paid_with
    kes = stack.balance(amina, "KES")
    assert Money.of(context.amount(value), KES) <= kes < Money.of(context.amount(value) + 1, KES)
    assert bill.paid_with.asset == USDT


@then("she is told the smartcard number is not a GOtv IUC number")
def told_bad_smartcard(context):
    refused = context["refused"]
    assert isinstance(refused, InvalidInput) and "GOtv IUC" in refused.message


@then(parsers.parse('he is refused by the "{limit}" limit'))
def refused_by(context, limit):
    assert context["refused"].details["limit"] == limit
