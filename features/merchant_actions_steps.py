"""Steps for merchant_actions.feature and payment_links.feature (the shop and payments come from the journey).

Like ``merchant_journey_steps``, the steps talk only to a ``stack`` fixture; the test modules bring the in-memory
deployment or the real one (PostgreSQL) and import these steps and the journey's.
"""

from datetime import timedelta
from typing import Any

import attrs
import pytest
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments import RefundState
from cryptopay.core.ports.chains import TxState
from pytest_bdd import given, parsers, then, when

from features.merchant_journey_steps import MERCHANT, number

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _refund(stack: Any, journey: dict[str, Any], amount: Money, *, fund: bool = False) -> None:
    try:
        refund = stack.refunds.refund(
            journey["invoice"], address=CUSTOMER, requested_by="user:owner", amount=amount, fund_after_settlement=fund
        )
    except CryptopayError as error:
        journey["refused"] = error
        return
    journey["refund"] = refund.id


@when(parsers.parse("the merchant refunds {value} USDT to the customer's address"))
def refunds_usdt(stack, journey, value):
    _refund(stack, journey, Money.of(number(value), USDT))
    assert "refused" not in journey, journey.get("refused")


@when(parsers.parse("the merchant refunds {value} USDT to the customer's address, funded from its next settlements"))
def refunds_funded(stack, journey, value):
    _refund(stack, journey, Money.of(number(value), USDT), fund=True)
    assert "refused" not in journey, journey.get("refused")


@when(parsers.parse("the merchant asks to refund {value} USDT, funded from its next settlements"))
def refunds_funded_refused(stack, journey, value):
    _refund(stack, journey, Money.of(number(value), USDT), fund=True)


@when(parsers.parse("the customer pays another invoice for {price} USDT"))
def another_paid_invoice(stack, journey, price):
    invoice = stack.invoicing.create_invoice(MERCHANT, Money.of(number(price), USDT))
    stack.pay(invoice.id)
    stack.confirm(3)


def _owed(stack: Any) -> Money:
    receivable = flows.merchant_receivable(MERCHANT)
    found = stack.ledger.balances([receivable]).get(receivable)
    return found.posted if found is not None else Money.zero(KES)


@then(parsers.parse("the refund is waiting to be sent and the merchant owes KES {owed}"))
def refund_waiting_owed(stack, journey, owed):
    assert stack.refunds.get_refund(journey["refund"]).state is RefundState.REQUESTED
    assert _owed(stack) == Money.of(number(owed), KES)


@then(parsers.parse("the merchant owes nothing and was paid KES {paid} this time"))
def owes_nothing_paid(stack, journey, paid):
    assert _owed(stack) == Money.zero(KES)
    assert stack.payouts.get_payout(journey["payout"]).amount == Money.of(number(paid), KES)


@then("the merchant owes nothing")
def owes_nothing(stack):
    assert _owed(stack) == Money.zero(KES)


@then("the refund is refused because the merchant would owe more than it was paid in the last 30 days")
def refused_beyond_volume(journey):
    assert journey["refused"].code == "beyond_recent_volume", journey["refused"]
    assert "last 30 days" in journey["refused"].message


@when(parsers.parse("the merchant refunds KES {value} to the customer's address"))
def refunds_kes(stack, journey, value):
    _refund(stack, journey, Money.of(number(value), KES))
    assert "refused" not in journey, journey.get("refused")


@when(parsers.parse("the merchant asks to refund {value} USDT more"))
def refunds_more(stack, journey, value):
    _refund(stack, journey, Money.of(number(value), USDT))


@when("the refund is sent and the chain confirms it")
def refund_confirmed(stack, journey):
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(journey["refund"], TxState.CONFIRMED)
    stack.refunds.check_refunds()


@when("the refund is sent but the chain rejects it")
def refund_rejected(stack, journey):
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(journey["refund"], TxState.FAILED)
    stack.refunds.check_refunds()


@then(parsers.parse("the refund is waiting to be sent and {free} USDT of the merchant's balance is free"))
def refund_waiting(stack, journey, free):
    assert stack.refunds.get_refund(journey["refund"]).state is RefundState.REQUESTED
    available = stack.ledger.balance(flows.merchant_liability(MERCHANT, USDT)).available
    assert available == Money.of(number(free), USDT)


@then(parsers.re(r"the refund (?:is|has) (?P<state>requested|sent|confirmed|failed)$"))
def refund_state(stack, journey, state):
    assert stack.refunds.get_refund(journey["refund"]).state is RefundState(state)


@then(parsers.parse("the refund is refused because at most {most} USDT can still be refunded"))
def refund_refused(journey, most):
    error = journey["refused"]
    assert f"at most {Money.of(number(most), USDT)}" in error.message


@then("only one refund exists for the invoice")
def one_refund(stack, journey):
    assert len(stack.refunds.list_refunds(journey["invoice"])) == 1


@then(parsers.re(r"^(?P<value>[0-9.,]+) USDT can still be refunded$"))
def still_refundable(stack, journey, value):
    assert stack.refunds.refundable(journey["invoice"], "usdt-tron") == Money.of(number(value), USDT)


@then(parsers.parse("the refund takes {value} USDT at the rate it names"))
def refund_at_rate(stack, journey, value):
    refund = stack.refunds.get_refund(journey["refund"])
    assert refund.amount == Money.of(number(value), USDT)
    quote = stack.quotes.get(refund.quote_id)
    assert quote is not None and refund.rate == quote.ask and refund.requested.asset == KES


@when("the merchant cancels the invoice")
def cancels(stack, journey):
    stack.invoicing.cancel_invoice(journey["invoice"], actor="user:owner")


@when("the merchant tries to cancel the invoice")
def tries_to_cancel(stack, journey):
    with pytest.raises(CryptopayError) as refused:
        stack.invoicing.cancel_invoice(journey["invoice"], actor="user:owner")
    journey["refused"] = refused.value


@then("cancelling is refused because the invoice has received a payment")
def cancel_refused(journey):
    assert journey["refused"].code == "invoice_received_payment"


@then(parsers.parse("the merchant has been sent the refund webhooks {topics}"))
def refund_webhooks(stack, topics):
    sent = [m.topic for m in stack.outbox() if m.topic.startswith("refund.") and m.payload["merchant_id"] == MERCHANT]
    assert sent == [t.strip() for t in topics.split(",")]


# --- payment links ----------------------------------------------------------------------------------------------


def _open_link(stack: Any, journey: dict[str, Any], amount: Money | None = None) -> None:
    try:
        invoice = stack.payment_links.create_invoice(journey["link"], amount=amount)
    except CryptopayError as error:
        journey.setdefault("refusals", []).append(error)
        return
    journey.setdefault("link_invoices", []).append(invoice.id)


def _fixed_link(stack: Any, journey: dict[str, Any], price: str, max_uses: int | None = None) -> None:
    link = stack.payment_links.create_link(
        MERCHANT, actor="user:owner", description="Mandazi", amount=Money.of(number(price), KES), max_uses=max_uses
    )
    journey["link"], journey["link_id"] = link.public_id, link.id


@given(parsers.re(r"^a payment link for KES (?P<price>[0-9.,]+)$"))
def fixed_link(stack, journey, price):
    _fixed_link(stack, journey, price)


@given(parsers.re(r"^a payment link for KES (?P<price>[0-9.,]+) that may be used once$"))
def single_use_link(stack, journey, price):
    _fixed_link(stack, journey, price, max_uses=1)


@given(parsers.re(r"^a payment link for KES (?P<price>[0-9.,]+) that closes in (?P<minutes>\d+) minutes$"))
def expiring_link(stack, journey, price, minutes):
    expires = stack.clock.now() + timedelta(minutes=int(minutes))
    link = stack.payment_links.create_link(
        MERCHANT, actor="user:owner", description="Promo", amount=Money.of(number(price), KES), expires_at=expires
    )
    journey["link"], journey["link_id"] = link.public_id, link.id


@given("a payment link where the customer enters the amount")
def open_amount_link(stack, journey):
    link = stack.payment_links.create_link(MERCHANT, actor="user:owner", description="Tips")
    journey["link"], journey["link_id"] = link.public_id, link.id


@given(parsers.parse("the shop takes invoices between KES {low} and KES {high}"))
def store_bounds(stack, low, high):
    with stack.uow() as uow:
        store = uow.stores.get(MERCHANT)
        uow.stores.put(attrs.evolve(store, min_invoice=number(low), max_invoice=number(high)))


@when("a customer opens the link")
@when("another customer opens the link")
def customer_opens(stack, journey):
    _open_link(stack, journey)


@when(parsers.parse("a customer opens the link and enters KES {value}"))
def customer_enters(stack, journey, value):
    _open_link(stack, journey, Money.of(number(value), KES))


@when("the merchant deactivates the link")
def merchant_deactivates(stack, journey):
    stack.payment_links.deactivate_link(journey["link_id"], actor="user:owner")


@when("the first customer pays the invoice and the chain confirms it")
def first_pays(stack, journey):
    stack.pay(journey["link_invoices"][0])
    stack.confirm(3)


@then(parsers.parse("each customer has an invoice of their own for KES {price}"))
def own_invoices(stack, journey, price):
    made = journey["link_invoices"]
    assert len(made) == len(set(made)) == 2
    assert all(stack.invoice(i).price == Money.of(number(price), KES) for i in made)
    addresses = {stack.invoice(i).options[0].address for i in made}
    assert len(addresses) == 2  # each invoice has its own deposit address


@then(parsers.parse("the customer has an invoice for KES {price}"))
def one_invoice(stack, journey, price):
    assert stack.invoice(journey["link_invoices"][-1]).price == Money.of(number(price), KES)


@then("the first customer's invoice is settled")
def first_settled(stack, journey):
    assert stack.invoice(journey["link_invoices"][0]).state is InvoiceState.SETTLED


@then(parsers.parse("the link has been used {count:d} times"))
def link_uses(stack, journey, count):
    assert stack.payment_links.get_link(journey["link_id"]).uses == count


@then("the second customer is told the link is closed")
@then("the customer is told the link is closed")
def told_closed(journey):
    assert journey["refusals"][-1].code == "payment_link_closed"


@then("the second customer is told the link is busy with a checkout in progress")
def told_busy(journey):
    refused = journey["refusals"][-1]
    assert refused.code == "payment_link_busy" and "checkout in progress" in refused.message


@then("the customer is told the amount is below the shop's minimum")
def told_below(journey):
    assert journey["refusals"][-1].code == "below_store_minimum"
