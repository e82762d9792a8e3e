"""Steps for remittances.feature over a ``RemittanceStack``: in memory (test_remittances.py), or on PostgreSQL with
M-Pesa over HTTP to the Daraja sandbox (test_remittances_real.py)."""

from datetime import timedelta
from typing import Any

from cryptopay.core.compliance.travel_rule import IncompleteTravelRuleData
from cryptopay.core.kyc.limits import day_bounds
from cryptopay.core.money import KES, Money
from cryptopay.core.remittances import RemittanceOrder, RemittanceRoute, RemittanceState, Sender
from cryptopay.core.system import NAIROBI
from pytest_bdd import given, parsers, then, when

from tests.support.remittance_stack import TRON_REFUND, RemittanceStack

ADDRESS = "12 Acacia Road, London"


def _stack(context: Any) -> RemittanceStack:
    stack: RemittanceStack = context["remittance_stack"]
    return stack


def _order(context: Any) -> RemittanceOrder:
    return _stack(context).get(context["order"])


@given(parsers.re(r"(?P<name>\w+) has a verified wallet with the phone number (?P<phone>[\d ]+)"))
def verified_wallet(context, remittance_stack, name, phone):
    context["remittance_stack"] = remittance_stack
    context.setdefault("people", {})[name] = remittance_stack.wallet.sign_up(phone, tier=1)


@given(parsers.re(r"(?P<name>\w+) has a wallet with only her phone number (?P<phone>[\d ]+) verified"))
def phone_only_wallet(context, remittance_stack, name, phone):
    """Tier 0: it takes remittances of KES 5,000 at a time, 10,000 a day, 30,000 a month (``PRODUCT_LIMITS``)."""
    context["remittance_stack"] = remittance_stack
    context.setdefault("people", {})[name] = remittance_stack.wallet.sign_up(phone)


@given(parsers.re(r"M-Pesa refuses payments to (?P<phone>[\d ]+)"))
def mpesa_refuses(context, remittance_stack, phone):
    context["remittance_stack"] = remittance_stack
    context["refusing"] = "254" + phone.replace(" ", "")[1:]
    remittance_stack.refuse(context["refusing"])


@given(parsers.re(r"Achieng has received KES (?P<value>[\d,]+) on M-Pesa today"))
def received_today(context, remittance_stack, value):
    """Earlier remittances to Achieng's number today, each paid out by B2C (in parts of at most KES 245,000)."""
    context["remittance_stack"] = remittance_stack
    left = context.amount(value)
    while left > 0:
        part = min(left, 245_000)
        order = remittance_stack.order(
            "0712345678", str(part), sender=Sender(name="Grace Otieno", country="GB", address=ADDRESS)
        )
        remittance_stack.pay(order)
        remittance_stack.confirm()
        remittance_stack.run()
        assert remittance_stack.get(order).state is RemittanceState.PAID_OUT, remittance_stack.get(order).note
        left -= part


@when("midnight passes in Nairobi")
def midnight(context):
    stack = _stack(context)
    _, tomorrow = day_bounds(stack.clock.now())
    stack.clock.set(tomorrow + timedelta(minutes=1))
    stack.run()


@then("Achieng's payout waits for midnight in Nairobi and nothing more is sent to M-Pesa today")
def waits_for_midnight(context):
    order, stack = _order(context), _stack(context)
    _, tomorrow = day_bounds(stack.clock.now())
    assert (order.state, order.route, order.payout_id) == (RemittanceState.PAYING_OUT, RemittanceRoute.MPESA, None)
    assert order.next_attempt_at == tomorrow and "daily limit" in (order.note or ""), order.note
    assert stack.remittances.payout_of(order) is None
    stack.run()  # the worker runs again before midnight: still nothing
    assert stack.remittances.payout_of(_order(context)) is None


@then("Achieng is told once by SMS, in English and Swahili, on which day she is paid")
def told_of_the_wait(context):
    order, stack = _order(context), _stack(context)
    day = day_bounds(stack.clock.now())[1].astimezone(NAIROBI).strftime("%d/%m/%Y")
    stack.run()  # the worker runs again: no second message for the same wait
    texts = [m.text for m in stack.wallet.sms.sent_to(order.recipient_phone)]
    assert len(texts) == context["sms_before"] + 1, texts
    assert f"paid to your M-Pesa on {day}" in texts[-1] and f"tarehe {day}" in texts[-1], texts[-1]
    context["sms_before"] += 1  # the SMS that says it is paid comes on top


@when(
    parsers.re(
        r"(?P<name>\w+) in (?P<country>[A-Z]{2}) sends KES (?P<value>[\d,]+) to (?P<phone>[\d ]+) "
        r"and pays the USDT asked"
    )
)
def sends_and_pays(context, remittance_stack, name, country, value, phone):
    context["remittance_stack"] = remittance_stack
    sender = Sender(name=f"{name} Otieno", country=country, address=ADDRESS)
    order = remittance_stack.order(phone, str(context.amount(value)), sender=sender, name="Achieng Otieno")
    context["order"], context["sms_before"] = order, len(remittance_stack.wallet.sms.sent_to(order.recipient_phone))
    context["transfer"] = remittance_stack.pay(order)
    remittance_stack.confirm()
    remittance_stack.run()


@when(parsers.re(r"M-Pesa has been tried (?P<times>\d+) times, (?P<minutes>\d+) minutes apart"))
def tried(context, times, minutes):
    stack = _stack(context)
    for _ in range(int(times)):
        stack.clock.advance(minutes=int(minutes) + 1)
        stack.run()
    stack.run()
    stack.confirm_refunds()
    stack.run()


@when(
    parsers.re(
        r"(?P<name>\w+) in (?P<country>[A-Z]{2}) sends KES (?P<value>[\d,]+) to (?P<phone>[\d ]+) "
        r"giving only her name and country"
    )
)
def sends_bare(context, remittance_stack, name, country, value, phone):
    context["remittance_stack"] = remittance_stack
    try:
        remittance_stack.order(phone, str(context.amount(value)), sender=Sender(name=f"{name} Otieno", country=country))
    except IncompleteTravelRuleData as refused:
        context["refused"] = refused


def _told(context: Any, name: str) -> None:
    texts = [m.text for m in _stack(context).wallet.sms.sent_to(_order(context).recipient_phone)]
    assert len(texts) == context["sms_before"] + 1 and f"{name} Otieno (GB)" in texts[-1], texts


@then(parsers.re(r"Achieng receives KES (?P<value>[\d,]+) on M-Pesa and an SMS naming (?P<name>\w+)"))
def receives_on_mpesa(context, value, name):
    order, stack = _order(context), _stack(context)
    assert (order.state, order.route) == (RemittanceState.PAID_OUT, RemittanceRoute.MPESA)
    payout = stack.remittances.payout_of(order)
    assert payout.amount == Money.of(context.amount(value), KES) and payout.receipt
    assert payout.destination == order.recipient_phone
    _told(context, name)


@then(parsers.re(r"(?P<who>\w+) has KES (?P<value>[\d,]+) in her wallet and an SMS naming (?P<name>\w+)"))
def has_in_wallet(context, who, value, name):
    order, stack = _order(context), _stack(context)
    assert (order.state, order.route) == (RemittanceState.PAID_OUT, RemittanceRoute.WALLET)
    assert stack.wallet.balance(context["people"][who], "KES") == Money.of(context.amount(value), KES)
    _told(context, name)


@then(parsers.re(r"(?P<who>\w+) has nothing in her wallet"))
def nothing_in_wallet(context, who):
    stack = _stack(context)
    assert all(stack.wallet.balance(context["people"][who], asset).is_zero() for asset in ("KES", "USDT"))


@then("all the USDT Grace paid goes back to her wallet")
def refunded(context):
    order, stack = _order(context), _stack(context)
    assert order.state is RemittanceState.REFUNDED and order.attempts == 3
    refund = stack.refunds.get_refund(order.refund_id)
    assert (refund.address, refund.amount) == (TRON_REFUND, context["transfer"].amount)


@then("the books balance")
def books_balance(context):
    assert _stack(context).books_balanced()


@then("she is told the originator needs an address, an identity number or date and place of birth")
def told_travel_rule(context):
    refused = context["refused"]
    assert "address, an identity number" in refused.message and "date and place of birth" in refused.message


@then("no order was opened")
def no_order(context):
    assert _stack(context).remittances.orders() == []
