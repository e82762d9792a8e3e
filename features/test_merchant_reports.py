"""Steps for merchant_reports.feature: sales, fees with taxes and settlements per day and month."""

from datetime import UTC, datetime

import pytest
from cryptopay.core.money import USDT, Money
from cryptopay.core.reports import Reports
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("merchant_reports.feature")

_DAYS = {"5": datetime(2026, 1, 5, 9, tzinfo=UTC), "6": datetime(2026, 1, 6, 9, tzinfo=UTC)}


@pytest.fixture(name="stack")
def _fake_stack():  # a private name: the real-parts module's ``import *`` must not take it
    """The payment use cases on the in-memory fakes (test_merchant_reports_real.py runs them on real parts)."""
    return PaymentsStack()


@given("a shop paid out daily to the M-Pesa phone 0712 345 678 with a 1% fee")
def shop(context, stack):
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712 345 678")
    stack.add_merchant("m1", settlement=profile, fee_percent="1")
    context["stack"], context["reports"] = stack, Reports(uow=stack.uow, clock=stack.clock)


def _pay(context, usdt: str) -> None:
    stack = context["stack"]
    invoice = stack.invoicing.create_invoice("m1", Money.of(context.amount(usdt), USDT))
    stack.pay(invoice.id)
    stack.confirm(3)


@given(parsers.re(r"(?:customers|a customer) paid (?P<amounts>.+) on \w+ (?P<day>\d+) January 2026"))
def customers_paid(context, amounts, day):
    context["stack"].clock.set(_DAYS[day])
    for amount in amounts.replace(" USDT", "").split(" and "):
        _pay(context, amount)


@given("the day's settlement was paid to the shop's phone")
def settled(context):
    stack = context["stack"]
    stack.clock.set(datetime(2026, 1, 5, 14, 30, tzinfo=UTC))
    stack.settling.run_settlements()
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()


@when("the shop reads its daily sales for 5 and 6 January")
def daily_sales(context):
    context["report"] = context["reports"].report("sales", "m1", period="day", first="2026-01-05", last="2026-01-06")


def _row(context, period: str) -> dict[str, str]:
    return next(r for r in context["report"].rows if r["period"] == period)


@then(
    parsers.re(
        r"(?P<day>Monday|Tuesday) shows (?P<n>\d+) payments?, (?P<got>[\d.]+) USDT received, "
        r"(?P<fees>[\d.]+) USDT in fees and (?P<net>[\d.]+) USDT net"
    )
)
def day_sales(context, day, n, got, fees, net):
    row = _row(context, "2026-01-05" if day == "Monday" else "2026-01-06")
    assert row["payments"] == n
    for column, value in (("received", got), ("fees", fees), ("net", net)):
        assert context.amount(row[column]) == context.amount(value)


@then(parsers.parse("the monthly sales for January show {n:d} payments and {net} USDT net"))
def monthly_sales(context, n, net):
    report = context["reports"].report("sales", "m1", period="month", first="2026-01-01", last="2026-01-31")
    [row] = report.rows
    assert row["payments"] == str(n) and context.amount(row["net"]) == context.amount(net)


@when("the shop reads its fees for January")
def january_fees(context):
    context["report"] = context["reports"].report("fees", "m1", period="month", first="2026-01-01", last="2026-01-31")


@then(parsers.parse("the merchant fee is {fee} USDT, of which excise duty {duty} USDT, leaving {net} USDT net of tax"))
def fee_with_duty(context, fee, duty, net):
    row = next(r for r in context["report"].rows if r["product"] == "merchant_fee")
    for column, value in (("fees", fee), ("excise_duty", duty), ("net_of_tax", net)):
        assert context.amount(row[column]) == context.amount(value)


@when("the shop reads its settlements for 5 January")
def settlements(context):
    context["report"] = context["reports"].report(
        "settlements", "m1", period="day", first="2026-01-05", last="2026-01-05"
    )


@then(parsers.parse("it shows {n:d} settlement with KES {paid} paid out and nothing in flight"))
def settlement_row(context, n, paid):
    [row] = context["report"].rows
    assert row["settlements"] == str(n) and context.amount(row["paid_out"]) == context.amount(paid)
    assert context.amount(row["in_flight"]) == 0
