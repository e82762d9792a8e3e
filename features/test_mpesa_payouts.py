"""Steps for mpesa_payouts.feature: a merchant's payout split into M-Pesa-sized payments."""

from datetime import time

from cryptopay.core.fees import FeeProduct, FeeSchedule
from cryptopay.core.money import KES, Money
from cryptopay.core.settlement import SettlementMethod, SettlementSchedule
from cryptopay.core.settlement.policy import SettlementPolicy, plan_payouts
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("mpesa_payouts.feature")


def shillings(context, text: str) -> Money:
    return Money.of(context.amount(text), KES)


@given(parsers.parse("a merchant paid out daily at {hour:d}:{minute:d} to the M-Pesa phone {phone}"))
def merchant_policy(context, hour, minute, phone):
    context["policy"] = {
        "schedule": SettlementSchedule.DAILY,
        "method": SettlementMethod.MPESA_B2C,
        "destination": phone,
        "cutoff": time(hour, minute),
    }
    context["paid_today"] = Money.zero(KES)


@given(
    parsers.parse(
        "the merchant pays an M-Pesa charge of KES {fixed} plus {percent}% on each payment, at most KES {cap}"
    )
)
def payout_charge(context, fixed, percent, cap):
    context["policy"]["charges"] = FeeSchedule(
        product=FeeProduct.MPESA_PAYOUT,
        asset=KES,
        version=1,
        effective_from=context["now"],
        percent=context.amount(percent),
        fixed=shillings(context, fixed),
        maximum=shillings(context, cap),
    )


@given(parsers.parse("the merchant's balance is KES {balance}"))
def balance(context, balance):
    context["balance"] = shillings(context, balance)


@given("nothing has been sent to that phone today")
def nothing_sent_today(context):
    context["paid_today"] = Money.zero(KES)


@given(parsers.parse("KES {sent} has already been sent to that phone today"))
def already_sent(context, sent):
    context["paid_today"] = shillings(context, sent)


@when("the payout is planned")
def plan(context):
    policy = SettlementPolicy(**context["policy"])
    context["plan"] = plan_payouts(
        context["balance"], policy=policy, now=context["now"], paid_today=context["paid_today"]
    )


@then("these M-Pesa payments are sent:")
def payments_sent(context, datatable):
    header, *rows = datatable
    parts = context["plan"].parts
    assert len(parts) == len(rows)
    for row, part in zip(rows, parts):
        expected = dict(zip(header, row))
        assert part.sequence == int(expected["payment"])
        assert part.amount == shillings(context, expected["shillings"])
        assert part.fee == shillings(context, expected.get("charge", "0"))


@then("no M-Pesa payment is sent")
def nothing_sent(context):
    assert context["plan"].parts == ()


@then(parsers.parse("KES {left} stays in the merchant's balance for the next payout"))
def remainder(context, left):
    plan = context["plan"]
    assert plan.remainder == shillings(context, left)
    assert plan.total_paid + plan.total_fees + plan.remainder == context["balance"]
