"""Steps for wallet_transfers.feature: phone sign-up, transfers between people, claims, over the in-memory stack."""

from cryptopay.core.errors import LimitExceeded
from cryptopay.core.money import KES, Money
from pytest_bdd import given, parsers, scenarios, then, when

from tests.support.wallet_stack import wallet_stack

scenarios("wallet_transfers.feature")


def _stack(context):
    if "wallets" not in context:
        context["wallets"] = wallet_stack()
        context["people"] = {}
    return context["wallets"]


@given(
    parsers.re(r"(?P<name>\w+) signs up with the phone number (?P<phone>[\d ]+) and the code (s?he) receives by SMS")
)
@when(parsers.re(r"(?P<name>\w+) signs up with the phone number (?P<phone>[\d ]+) and the code (s?he) receives by SMS"))
def signs_up(context, name, phone):
    context["people"] = {**context.get("people", {})}
    stack = _stack(context)
    context["people"][name] = stack.sign_up(phone)


@given(parsers.parse("{name} has verified her national ID"))
def verified(context, name):
    _stack(context).grant_tier(context["people"][name].id)


@when(parsers.re(r"(?P<name>\w+) verifies (his|her) national ID"))
def verifies(context, name):
    _stack(context).grant_tier(context["people"][name].id)


@given(parsers.re(r"(?P<name>\w+) has KES (?P<value>[\d,]+) in (his|her) wallet"))
def funded(context, name, value):
    _stack(context).fund(context["people"][name], str(context.amount(value)), "KES")


@when(parsers.re(r'(?P<name>\w+) sends KES (?P<value>[\d,]+) to (?P<to>[\d ]+) with the note "(?P<note>[^"]*)"'))
def sends(context, name, value, to, note):
    stack = _stack(context)
    stack.wallets.send(context["people"][name].id, to, Money.of(context.amount(value), KES), note=note)


@when(parsers.re(r"(?P<name>\w+) tries to send KES (?P<value>[\d,]+) to (?P<to>[\d ]+)"))
def tries_to_send(context, name, value, to):
    try:
        _stack(context).wallets.send(context["people"][name].id, to, Money.of(context.amount(value), KES))
    except LimitExceeded as refused:
        context["refused"] = refused


@when(parsers.re(r"(?P<days>a|eight) days? pass(es)?"))
def days_pass(context, days):
    stack = _stack(context)
    stack.clock.advance(days=1 if days == "a" else 8)
    stack.waiting_claims.settle()  # the worker's job: claims for wallets first, then the expired go back


@then(parsers.re(r"(?P<name>\w+) has KES (?P<value>[\d,]+) in (his|her) wallet"))
def has(context, name, value):
    assert _stack(context).balance(context["people"][name], "KES") == Money.of(context.amount(value), KES)


@then(parsers.re(r"(?P<name>\w+)'s history shows KES (?P<moved>-?[\d.]+) leaving her with KES (?P<after>[\d.]+)"))
def history_shows(context, name, moved, after):
    latest = _stack(context).wallets.history(context["people"][name].id, asset=KES)[0]
    assert (str(latest.amount.amount), str(latest.balance_after.amount)) == (moved, after)


@then(parsers.parse('he is refused by the "{limit}" limit with KES {remaining} remaining'))
def refused_by(context, limit, remaining):
    assert context["refused"].details == {"limit": limit, "remaining": remaining}


@then(parsers.parse("{phone} receives an SMS saying money is waiting for seven days"))
def invited(context, phone):
    assert "within 7 days" in _stack(context).sms.sent_to(phone.replace(" ", ""))[-1].text


@then("she is told only that the recipient cannot receive this amount now")
def recipient_cannot(context):
    refused = context["refused"]
    assert refused.code == "recipient_limit" and "cannot receive this amount now" in refused.message
    assert refused.details == {"field": "amount", "limit": "recipient"}  # nothing of Baraka's tier or receipts
