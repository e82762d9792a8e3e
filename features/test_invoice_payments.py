"""Steps for invoice_payments.feature: short, over and late payments against one invoice."""

from datetime import timedelta

from cryptopay.core.invoices import Invoice
from cryptopay.core.money import USDT, Money
from cryptopay.core.rails import rail_for
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("invoice_payments.feature")

NOTES = {
    "nothing unusual": "none",
    "paid partially": "paid_partial",
    "paid short within the tolerance": "paid_under_tolerated",
    "paid over": "paid_over",
    "paid late": "paid_late",
}
STATES = {"waiting for payment": "new", "settled": "settled", "expired": "expired"}


@given(parsers.parse("a shop that accepts payments up to {percent}% short"))
def shop_tolerance(context, percent):
    context["tolerance"] = context.amount(percent)


@given(parsers.parse("an invoice for {value} USDT payable on Tron within {minutes:d} minutes"))
def an_invoice(context, value, minutes):
    invoice, events = Invoice.create(
        invoice_id="inv_1",
        merchant_id="mer_1",
        price=Money.of(context.amount(value), USDT),
        addresses={rail_for("tron", "USDT"): "TShopDepositAddress01"},
        now=context["now"],
        tolerance_percent=context["tolerance"],
        window=timedelta(minutes=minutes),
    )
    context["invoice"] = invoice
    context.record(events)


@when(parsers.parse("the customer pays {value} USDT in time"))
def pays_in_time(context, value):
    context.pay(value, at=context.later(2))


@when(parsers.parse("the customer pays {value} USDT {minutes:d} minutes after the invoice expired"))
def pays_late(context, value, minutes):
    context.pay(value, at=context["invoice"].expires_at + timedelta(minutes=minutes))


@when(parsers.parse("the {minutes:d} minutes pass"))
def time_passes(context, minutes):
    context["now"] = context.later(minutes)
    context.record(context["invoice"].refresh(now=context["now"]))


@then(parsers.re(r"the invoice is (?P<state>[a-z ]+?)(?:,| with) (?:noted as )?(?P<note>.+)"))
def invoice_outcome(context, state, note):
    invoice = context["invoice"]
    assert (invoice.state.value, invoice.exception.value) == (STATES[state], NOTES[note])


@then(parsers.parse("the customer still owes {value} USDT"))
def still_owes(context, value):
    assert context["invoice"].still_due("usdt-tron") == Money.of(context.amount(value), USDT)


@then("the merchant is told that the invoice was paid late")
def told_paid_late(context):
    assert "invoice.paid_late" in [event.name for event in context["events"]]
