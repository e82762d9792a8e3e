"""Steps for merchant_actions.feature: refunds and cancelled invoices (the shop and payments come from the journey).

Like ``merchant_journey_steps``, the steps talk only to a ``stack`` fixture; the test modules bring the in-memory
deployment or the real one (PostgreSQL) and import these steps and the journey's.
"""

from typing import Any

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments import RefundState
from cryptopay.core.ports.chains import TxState
from pytest_bdd import parsers, then, when

from features.merchant_journey_steps import MERCHANT, number

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _refund(stack: Any, journey: dict[str, Any], amount: Money) -> None:
    try:
        refund = stack.refunds.refund(journey["invoice"], address=CUSTOMER, requested_by="user:owner", amount=amount)
    except CryptopayError as error:
        journey["refused"] = error
        return
    journey["refund"] = refund.id


@when(parsers.parse("the merchant refunds {value} USDT to the customer's address"))
def refunds_usdt(stack, journey, value):
    _refund(stack, journey, Money.of(number(value), USDT))
    assert "refused" not in journey, journey.get("refused")


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
